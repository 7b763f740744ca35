/**
 * Lexical checks on member names, before any file-system call (node-tar's strip-absolute-path
 * and CHECKPATH, Go's ErrInsecurePath). Pure string work on byte strings: exhaustively testable.
 *
 * Result: the name as a list of components relative to the root. [] means the root itself.
 * Solaris refuses images with absolute names (common.ksh e_absolute_archive); so do we unless
 * the user asks to strip the leading slashes.
 */
import { P2VError } from '../errors.js';
import { displayPath } from '../entry.js';

export interface PathPolicy {
  stripAbsolute: boolean;
  maxPathDepth: number;
}

export function memberComponents(name: string, policy: PathPolicy): string[] {
  if (name.startsWith('/')) {
    if (!policy.stripAbsolute) {
      throw new P2VError(
        'P2V_ENTRY_UNSAFE',
        'absolute member name: the image was made from "/" rather than relative to the root; re-run with --strip-absolute to extract it relative to DIR',
        { entry: displayPath(name), severity: 'fatal' },
      );
    }
  }
  const components: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new P2VError('P2V_ENTRY_UNSAFE', 'member name contains "..": skipped', {
        entry: displayPath(name),
        severity: 'skipped',
      });
    }
    components.push(part);
  }
  if (components.length > policy.maxPathDepth) {
    throw new P2VError('P2V_LIMIT', `member name is ${components.length} components deep (limit ${policy.maxPathDepth}): skipped`, {
      entry: displayPath(name).slice(0, 200),
      severity: 'skipped',
    });
  }
  return components;
}
