// A plugin shipped inside the agent folder: plain code the agent imports from its install copy.
export function classify(celsius, maxC) {
  if (celsius === undefined) return 'unknown';
  if (celsius > maxC) return 'too_hot';
  if (celsius < 5) return 'too_cold';
  return 'ok';
}
