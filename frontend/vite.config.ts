// Builds the UI into the Python package (src/tracklet/ui/static), hashed names under assets/.
// The server reads .vite/manifest.json to write the app shell's <script> and <link> tags, so
// no HTML is generated here and no inline script or style is ever needed (strict CSP).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/",
  publicDir: false,
  build: {
    outDir: "../src/tracklet/ui/static",
    emptyOutDir: true,
    manifest: true,
    target: "es2022",
    sourcemap: false,
    // The preload polyfill would be an inline helper; one entry needs no preloading.
    modulePreload: { polyfill: false },
    rollupOptions: { input: "src/main.ts" },
  },
});
