// Bundles the widget into caw_lab/static/ (or --outdir DIR): the layout worker is built
// first and inlined into the main bundle as text, so the widget needs one file and no
// worker URL. The timeline widget (src/timeline-widget.js) is a bundle of its own,
// timeline_widget.js, sharing dag_widget.css. The dashboard page (src/page/) is a second entry point importing the same
// DAG modules: page.js and page.css, served by caw_lab/web/page.py. --watch rebuilds on every change (with ANYWIDGET_HMR=1 the kernel reloads it).
import * as esbuild from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const args = process.argv.slice(2);
const watch = args.includes("--watch");
const OUT = args.includes("--outdir") ? args[args.indexOf("--outdir") + 1] : "../caw_lab/static";

async function workerSource() {
  const built = await esbuild.build({
    entryPoints: ["src/layout-worker.js"],
    bundle: true,
    minify: true,
    format: "iife",
    write: false,
    legalComments: "none",
  });
  return built.outputFiles[0].text;
}

const inlineWorker = {
  name: "inline-worker",
  setup(build) {
    build.onResolve({ filter: /^inline-worker:/ }, (args) => ({ path: args.path, namespace: "inline-worker" }));
    build.onLoad({ filter: /.*/, namespace: "inline-worker" }, async () => ({
      contents: await workerSource(),
      loader: "text",
    }));
  },
};

const options = {
  entryPoints: ["src/index.js"],
  bundle: true,
  minify: !watch,
  format: "esm",
  outfile: `${OUT}/dag_widget.js`,
  plugins: [inlineWorker],
  legalComments: "none",
  target: ["es2020"],
};

const page = { ...options, entryPoints: ["src/page/index.js"], format: "iife", outfile: `${OUT}/page.js` };
const timeline = { ...options, entryPoints: ["src/timeline-widget.js"], outfile: `${OUT}/timeline_widget.js` };

await mkdir(OUT, { recursive: true });
await copyFile("src/style.css", `${OUT}/dag_widget.css`);
await copyFile("src/page/page.css", `${OUT}/page.css`);
if (watch) {
  for (const o of [options, page, timeline]) await (await esbuild.context(o)).watch();
} else {
  await Promise.all([esbuild.build(options), esbuild.build(page), esbuild.build(timeline)]);
}
