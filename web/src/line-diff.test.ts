import { describe, expect, it } from 'vitest';
import { lineDiff } from './line-diff.js';

describe('lineDiff', () => {
  it('marks only the changed lines of an edited definition', () => {
    expect(
      lineDiff('id: a\nsignals:\n  x: 1\nqualify: x', 'id: a\nsignals:\n  x: 2\n  y: 3\nqualify: x'),
    ).toEqual([
      { kind: 'same', text: 'id: a' },
      { kind: 'same', text: 'signals:' },
      { kind: 'del', text: '  x: 1' },
      { kind: 'add', text: '  x: 2' },
      { kind: 'add', text: '  y: 3' },
      { kind: 'same', text: 'qualify: x' },
    ]);
  });

  it('gives back the new text from the kept and added lines, and the old from kept and removed', () => {
    const before = 'a\nb\nc\nd\ne';
    const after = 'x\nb\nd\ne\nf';
    const diff = lineDiff(before, after);
    expect(
      diff
        .filter((l) => l.kind !== 'del')
        .map((l) => l.text)
        .join('\n'),
    ).toBe(after);
    expect(
      diff
        .filter((l) => l.kind !== 'add')
        .map((l) => l.text)
        .join('\n'),
    ).toBe(before);
    expect(diff.filter((l) => l.kind === 'same').length).toBe(3);
  });
});
