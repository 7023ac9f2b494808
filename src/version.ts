// What this build is: the package version, the git commit and the target platform. A release
// build (build.ts) bakes the commit and target in with --define; a source run says "source".
import pkg from "../package.json" with { type: "json" };

declare const EZRA_BUILD_COMMIT: string;
declare const EZRA_BUILD_TARGET: string;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof EZRA_BUILD_COMMIT === "string" ? EZRA_BUILD_COMMIT : "unknown";
export const TARGET: string =
  typeof EZRA_BUILD_TARGET === "string" ? EZRA_BUILD_TARGET : `source (${process.platform}-${process.arch})`;

/** The line `ezra --version` prints. */
export function versionLine(): string {
  return `ezra ${VERSION} (commit ${COMMIT}, ${TARGET})`;
}
