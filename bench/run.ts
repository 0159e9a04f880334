import { benchDatastoreOpenList, benchDatastoreRead } from './datastore.js';
import type { Bench } from './types.js';
import { vmdkExportBench, vmdkExportRssBench } from './vmdk-export.js';
import { recoveryScanBench } from './recovery-scan.js';
import { recoveryScanBrowserBench } from './recovery-scan-browser.js';
import { vmdkExportBrowserBench } from './vmdk-export-browser.js';
import { sha256Bench } from './sha256.js';
import { cliStartupBench } from './cli-startup.js';
import { datastoreOpenBench } from './datastore-open.js';
import { datastoreOpenBrowserBench } from './datastore-open-browser.js';
import { deepScanBench } from './deep-scan.js';
import { raidDetectBench } from './raid-detect.js';
import { raidDetectBrowserBench } from './raid-detect-browser.js';

/**
 * `npm run bench [-- --json] [NAME...]`: runs the registered benches (all, or those named).
 * Human output by default; `--json` prints one JSON object per result, one per line, on stdout.
 * Add a bench by writing bench/<name>.ts exporting a Bench and listing it here.
 */
const BENCHES: Bench[] = [
  vmdkExportBench,
  vmdkExportRssBench,
  vmdkExportBrowserBench,
  { name: 'datastore-open-list', description: 'open + list a 64 TiB GPT datastore dump vs debugvmfs', run: () => benchDatastoreOpenList() },
  recoveryScanBench,
  recoveryScanBrowserBench,
  sha256Bench,
  cliStartupBench,
  datastoreOpenBench,
  datastoreOpenBrowserBench,
  deepScanBench,
  raidDetectBench,
  raidDetectBrowserBench,
  { name: 'datastore-read', description: 'read a 16 GiB file out of a dump vs dd of its byte range', run: () => benchDatastoreRead() },
];

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const names = argv.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench ${unknown.join(', ')}; available: ${BENCHES.map((b) => b.name).join(', ')}\n`);
    return 1;
  }
  const log = (l: string) => process.stderr.write(l + '\n');
  for (const b of BENCHES.filter((x) => names.length === 0 || names.includes(x.name))) {
    log(`== ${b.name}: ${b.description}`);
    for (const r of await b.run(log)) {
      if (json) {
        const { name, seconds, reference, referenceSeconds, ratio, peakRssMiB, notes } = r;
        process.stdout.write(JSON.stringify({ name, seconds, reference, referenceSeconds, ratio, peakRssMiB, ...(notes ? { notes } : {}) }) + '\n');
      } else {
        process.stdout.write(
          `${r.name}: ${r.seconds.toFixed(2)} s` +
            (r.referenceSeconds !== null ? ` vs ${r.reference} ${r.referenceSeconds.toFixed(2)} s (ratio ${r.ratio?.toFixed(2)})` : '') +
            `, peak RSS ${r.peakRssMiB} MiB${r.notes ? ` — ${r.notes}` : ''}\n`,
        );
      }
    }
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 2;
  },
);
