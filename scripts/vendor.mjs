// Copy the front-end packages' dist files from node_modules/ into static/vendor/<package>/ and
// write static/vendor/SHA256SUMS (sha256sum format), which tests/test_vendor.py checks.
// Run through `make vendor` (npm ci first, so the versions are the ones package-lock.json pins).
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "static", "vendor");

// package → [source inside node_modules/<package>, file name under static/vendor/<dir>]
const FILES = {
  bootstrap: {
    dir: "bootstrap",
    files: [
      ["dist/css/bootstrap.min.css", "bootstrap.min.css"],
      // The minified files name their source maps; production's manifest storage (collectstatic)
      // refuses a reference to a missing file, so the maps come along.
      ["dist/css/bootstrap.min.css.map", "bootstrap.min.css.map"],
      ["dist/js/bootstrap.bundle.min.js", "bootstrap.bundle.min.js"],
      ["dist/js/bootstrap.bundle.min.js.map", "bootstrap.bundle.min.js.map"],
      ["LICENSE", "LICENSE"],
    ],
  },
  echarts: {
    dir: "echarts",
    files: [
      ["dist/echarts.min.js", "echarts.min.js"],
      ["LICENSE", "LICENSE"],
      ["NOTICE", "NOTICE"],
    ],
  },
  // Only for the browser tests, which run it in each page they check (tests/browser/axe.py);
  // no page of ICR loads it.
  "axe-core": {
    dir: "axe-core",
    files: [
      ["axe.min.js", "axe.min.js"],
      ["LICENSE", "LICENSE"],
    ],
  },
  "htmx.org": {
    dir: "htmx",
    files: [
      ["dist/htmx.min.js", "htmx.min.js"],
      ["LICENSE", "LICENSE"],
    ],
  },
};

rmSync(target, { recursive: true, force: true });
const sums = [];
for (const [pkg, { dir, files }] of Object.entries(FILES)) {
  const version = JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"))).version;
  mkdirSync(join(target, dir), { recursive: true });
  for (const [source, name] of files) {
    const dest = join(target, dir, name);
    copyFileSync(join(root, "node_modules", pkg, source), dest);
    const digest = createHash("sha256").update(readFileSync(dest)).digest("hex");
    sums.push(`${digest}  ${dir}/${name}`);
  }
  console.log(`${pkg} ${version} → static/vendor/${dir}/`);
}
const path = (line) => line.slice(66);
sums.sort((a, b) => (path(a) < path(b) ? -1 : path(a) > path(b) ? 1 : 0));
writeFileSync(join(target, "SHA256SUMS"), sums.join("\n") + "\n");
console.log(`wrote static/vendor/SHA256SUMS (${sums.length} files)`);
