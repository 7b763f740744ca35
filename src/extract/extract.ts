import type { ExtractOptions, ExtractReport } from './types.js';
import { P2VError } from '../errors.js';

export async function extract(_options: ExtractOptions): Promise<ExtractReport> {
  throw new P2VError('P2V_UNSUPPORTED', 'extract is being built');
}
