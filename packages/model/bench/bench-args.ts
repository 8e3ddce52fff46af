/** The value after flag `name` on the command line (`--rounds 2` gives "2"), or undefined when absent. */
export function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : process.argv[index + 1];
}
