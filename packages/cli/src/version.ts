/** The release every program reports with --version, and in the man pages. */
export const VERSION = '0.1.0';

/** `name version V` and the commit the build was made from. */
export function versionText(name: string, commit: string): string {
  return `${name} version ${VERSION}\ncommit: ${commit}\n`;
}
