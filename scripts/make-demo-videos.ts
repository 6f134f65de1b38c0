/**
 * `node scripts/make-demo-videos.ts` — records the fake CDN's two demo videos
 * (`src/dev/fake-civitai/videos/{portrait,landscape}.mp4`) in Debian's Chromium: an animated
 * landscape drawn on a canvas and encoded by the browser's own MediaRecorder as H.264 MP4, which
 * every browser plays. No video encoder is needed on the machine; the files are committed, so the
 * demo never runs this. Run it again only to change the videos.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const OUT = fileURLToPath(new URL('../src/dev/fake-civitai/videos/', import.meta.url));
const VARIANTS = [
  { name: 'portrait', width: 288, height: 512, hue: 28 },
  { name: 'landscape', width: 512, height: 288, hue: 205 },
] as const;
const SECONDS = 4;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  for (const variant of VARIANTS) {
    const page = await browser.newPage();
    await page.setContent(`<canvas id="c" width="${variant.width}" height="${variant.height}"></canvas>`);
    const bytes: number[] = await page.evaluate(
      async ({ width, height, hue, seconds }) => {
        const canvas = document.getElementById('c') as HTMLCanvasElement;
        const g = canvas.getContext('2d')!;
        // Hills as fixed random ridgelines, scrolled at different speeds (parallax).
        let seed = hue * 7919;
        const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
        const ridges = [0, 1, 2].map((layer) =>
          Array.from({ length: 24 }, () => height * (0.55 + layer * 0.12) + (random() - 0.5) * height * 0.16),
        );
        const draw = (t: number) => {
          const sky = g.createLinearGradient(0, 0, 0, height);
          sky.addColorStop(0, `hsl(${hue + 190} 55% ${30 + 25 * t}%)`);
          sky.addColorStop(1, `hsl(${hue} 75% ${55 + 20 * t}%)`);
          g.fillStyle = sky;
          g.fillRect(0, 0, width, height);
          // The sun rises over the clip.
          g.fillStyle = `hsl(${hue + 20} 95% 75%)`;
          g.beginPath();
          g.arc(width * 0.7, height * (0.62 - 0.3 * t), Math.min(width, height) * 0.09, 0, Math.PI * 2);
          g.fill();
          ridges.forEach((ridge, layer) => {
            const step = width / 16;
            const offset = (t * (layer + 1) * width * 0.35) % (step * 24);
            g.fillStyle = `hsl(${(hue + 140 + layer * 14) % 360} 35% ${40 - layer * 11}%)`;
            g.beginPath();
            g.moveTo(0, height);
            for (let i = 0; i <= 17; i += 1) {
              const x = i * step - (offset % step);
              const index = (i + Math.floor(offset / step)) % ridge.length;
              g.lineTo(x, ridge[index]!);
            }
            g.lineTo(width, height);
            g.closePath();
            g.fill();
          });
        };
        const stream = canvas.captureStream(30);
        const recorder = new MediaRecorder(stream, { mimeType: 'video/mp4;codecs=avc1.42E01E', videoBitsPerSecond: 350_000 });
        const chunks: Blob[] = [];
        recorder.ondataavailable = (event) => chunks.push(event.data);
        const done = new Promise<void>((resolve) => (recorder.onstop = () => resolve()));
        recorder.start();
        const start = performance.now();
        await new Promise<void>((resolve) => {
          const frame = () => {
            const t = Math.min(1, (performance.now() - start) / (seconds * 1000));
            draw(t);
            if (t < 1) requestAnimationFrame(frame);
            else resolve();
          };
          frame();
        });
        recorder.stop();
        await done;
        return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
      },
      { width: variant.width, height: variant.height, hue: variant.hue, seconds: SECONDS },
    );
    const file = path.join(OUT, `${variant.name}.mp4`);
    await writeFile(file, Buffer.from(bytes));
    console.log(`${file}: ${bytes.length} bytes`);
    await page.close();
  }
} finally {
  await browser.close();
}
