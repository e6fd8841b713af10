import { useEffect, useRef } from 'preact/hooks';

/** Renders an Observable Plot chart (a function returning its SVG or figure) and replaces it on change. */
export function PlotFigure({ render, label }: { render: () => Element; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const chart = render();
    element.replaceChildren(chart);
    return () => chart.remove();
  }, [render]);
  return <div class="chart" role="figure" aria-label={label} ref={host} />;
}
