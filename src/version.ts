/**
 * This build's version, as package.json declares it (this module runs as dist/src/version.js,
 * two levels below package.json, which ships with every install of the package).
 */
import * as fs from 'node:fs';

export const zonep2vVersion: string = (() => {
  try {
    const declared = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof declared === 'string' ? declared : 'unknown';
  } catch {
    return 'unknown';
  }
})();
