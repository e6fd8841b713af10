/** One choice of a LabelledSelect. */
export interface SelectOption {
  readonly value: string;
  readonly label: string;
}

/** A select inside its label (so `getByLabel` and screen readers find it), reporting the chosen value. */
export function LabelledSelect({
  label,
  name,
  value,
  options,
  onChange,
}: {
  label: string;
  name: string;
  value: string;
  options: readonly SelectOption[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
}
