/**
 * One error class for the whole engine, with stable codes the CLI maps to exit codes.
 *
 * A message names the image, the entry (when there is one), the byte offset and what to do,
 * in one line: administrators read these in logs, and scripts match on `code`.
 */
export type P2VCode =
  | 'P2V_BAD_ARCHIVE' // corrupt or truncated input: header, checksum, stream
  | 'P2V_UNSUPPORTED' // a real format or feature we do not read
  | 'P2V_ENTRY_UNSAFE' // a member that would write outside the root
  | 'P2V_ENTRY_INVALID' // a member we skip (bad name, bad type) without failing the image
  | 'P2V_LIMIT' // a named limit in limits.ts was exceeded
  | 'P2V_IO' // a file-system call failed
  | 'P2V_INSTALL' // the package itself is incomplete (e.g. a WebAssembly kernel was not built)
  | 'P2V_USAGE' // bad command-line use
  | 'P2V_BLOCKED' // a member not placed: something already in the tree is in its way
  | 'P2V_LINK_TARGET' // a hard link not made: its target is not in the tree (never in the image) or is a directory
  | 'P2V_BUSY' // another run is writing the same tree (run-marker.ts)
  | 'P2V_INTERRUPTED'; // the caller stopped the run (its AbortSignal; Ctrl-C, SIGTERM in the CLI)

export type Severity = 'warning' | 'skipped' | 'fatal';

export interface P2VErrorDetails {
  /** image path as the user gave it, or "-" for stdin */
  image?: string;
  /** entry name (display form) the error belongs to */
  entry?: string;
  /** byte offset in the stream the layer reads (see `layer`) */
  offset?: number;
  /** which layer counted the offset: "gzip", "cpio(newc)", ... */
  layer?: string;
  /** failed system call, e.g. "open" */
  syscall?: string;
  severity?: Severity;
  cause?: unknown;
}

export class P2VError extends Error {
  readonly code: P2VCode;
  readonly details: P2VErrorDetails;

  constructor(code: P2VCode, message: string, details: P2VErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'P2VError';
    this.code = code;
    this.details = { severity: 'fatal', ...details };
  }

  get severity(): Severity {
    return this.details.severity ?? 'fatal';
  }

  /** Fill in context that an outer layer knows and the thrower did not. */
  withContext(extra: P2VErrorDetails): P2VError {
    for (const [key, value] of Object.entries(extra) as [keyof P2VErrorDetails, unknown][]) {
      if (this.details[key] === undefined && value !== undefined) {
        (this.details as Record<string, unknown>)[key] = value;
      }
    }
    return this;
  }

  /** The one-line form printed by the CLI: `image: layer at offset N: entry: message`. */
  oneLine(): string {
    const d = this.details;
    const parts: string[] = [];
    if (d.image !== undefined) parts.push(d.image);
    if (d.layer !== undefined || d.offset !== undefined) {
      const at = d.offset !== undefined ? `at byte ${d.offset}` : '';
      parts.push(d.layer !== undefined ? `${d.layer} ${at}`.trim() : at);
    }
    if (d.entry !== undefined) parts.push(`entry "${d.entry}"`);
    parts.push(this.message.replace(/\s*\n\s*/g, ' '));
    return parts.join(': ');
  }
}

export function isP2VError(error: unknown): error is P2VError {
  return error instanceof P2VError;
}

/** Shorthand for the commonest error: the input is not what its header says. */
export function badArchive(message: string, details: P2VErrorDetails = {}): P2VError {
  return new P2VError('P2V_BAD_ARCHIVE', message, details);
}

/** The errno name of a Node.js system error, if it is one. An fs error thrown in a
 *  worker thread crosses to this one without its `code` (structured clone keeps name, message
 *  and stack only): the message still starts with it ("ENOSPC: ..."). */
export function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException)?.code ?? /^(E[A-Z0-9]+): /.exec((error as Error)?.message ?? '')?.[1];
}

/** Wrap a Node.js system error from a file-system call into a P2VError naming the entry. */
export function ioError(error: unknown, entry: string | undefined, syscall: string): P2VError {
  if (error instanceof P2VError) return error;
  const code = errnoCode(error) ?? 'EIO';
  return new P2VError('P2V_IO', `${syscall} failed: ${code}`, { entry, syscall, cause: error });
}
