// Runs axe-core over an HTML file in headless Chromium and prints every violation of the
// WCAG 2.2 AA tags. Exit 0 with no violations, 1 with any, 2 when it cannot run.
// Usage: node tests/a11y/axe.mjs REPORT.html [CHROMIUM]
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const [file, browserPath] = process.argv.slice(2);
if (!file) {
  console.error("usage: node axe.mjs REPORT.html [CHROMIUM]");
  process.exit(2);
}
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: browserPath || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 1600 });
  await page.goto("file://" + file, { waitUntil: "load" });
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = await page.evaluate(
    (tags) => axe.run(document, { runOnly: { type: "tag", values: tags } }),
    TAGS,
  );
  for (const v of result.violations) {
    console.log(`${v.id} (${v.impact}): ${v.help} [${v.tags.filter((t) => t.startsWith("wcag")).join(", ")}]`);
    for (const n of v.nodes.slice(0, 5)) {
      console.log(`  ${n.target.join(" ")}: ${n.failureSummary.replace(/\n/g, " ")}`);
    }
    if (v.nodes.length > 5) console.log(`  ... and ${v.nodes.length - 5} more`);
  }
  console.log(`${result.violations.length} violations, ${result.passes.length} rules passed`);
  await browser.close();
  process.exit(result.violations.length === 0 ? 0 : 1);
} catch (e) {
  console.error(`axe could not run: ${e.message}`);
  if (browser) await browser.close();
  process.exit(2);
}
