/**
 * Every limit the engine enforces, named, with the reason for its default.
 * Each can be overridden through `Limits` in the library options (and CLI flags where useful).
 */
export interface Limits {
  /** Longest member name we accept. libarchive's CPIO_PATHNAME_MAX is 1 MiB; PATH_MAX on the
   *  target is far smaller, so anything longer is garbage or an attack on our allocator. */
  maxPathBytes: number;
  /** Longest symlink target (stored as entry data in cpio). Linux caps symlinks at 4095 bytes;
   *  we allow a bit more so a foreign image is reported, not silently cut. */
  maxLinkTargetBytes: number;
  /** Largest metadata record (pax headers, Solaris ACL/xattr side entries), as libarchive and Go. */
  maxMetaRecordBytes: number;
  /** Deepest path, in components (node-tar maxDepth, CVE-2024-28863). */
  maxPathDepth: number;
  /** Symlinks followed while resolving one path inside the root (Linux MAXSYMLINKS is 40). */
  maxSymlinkHops: number;
  /** Decompressed bytes per compressed byte before we call it a bomb (node-tar uses 1000; sparse
   *  database files legitimately compress further, so this is generous and overridable). */
  maxDecompressionRatio: number;
  /** Bytes of file data in flight between the parser and the writers (the shared ring): bounds
   *  memory. 16 MiB: with 64 MiB a no-change re-run once peaked at 311 MB RSS; 32 -> 16 MiB took
   *  15-30 MB off every peak (256 MiB corpus, tmpfs: cpio 187-200 -> 170-184 MB, xz -T2 300-306
   *  -> 274-282 MB) at the same wall time (cpio, 6 alternating runs: median 1.19 vs 1.17 s; 1 MiB
   *  batches keep 2 workers fed). */
  maxInflightBytes: number;
  /** Largest inode map of a dump (TS_CLRI / TS_BITS, one bit per inode). 64 MiB covers 512 M
   *  inodes, far beyond any UFS or ext2 file system; a larger c_count is a corrupt header. */
  maxDumpMapBytes: number;
  /** Directory names a dump reader holds to name the files (inode records carry no names, so
   *  the whole tree is kept until the files come). 64 MiB is millions of names (a Solaris root
   *  has some 10^5, ~15 bytes each); the heap holds about twice the bytes counted, so 512 MiB
   *  let a 4.7 MB image take 485 MB before the limit. */
  maxDumpTreeBytes: number;
  /** Bytes of holes in one sparse file. A hole costs no data in the image but is hashed as the
   *  zeros it reads as (~4 GB/s): a 10 KB tar declaring a 1 PB sparse file meant 70 hours of
   *  hashing. 1 TiB is ~4 minutes, beyond any file of a Solaris root. */
  maxSparseHoleBytes: number;
  /** Names the cpio reader keeps to make hard links (formats/cpio/links.ts): each group's data
   *  name, and newc names waiting for their group's data. 8 MiB counted (the live heap, measured)
   *  is 25k-70k names; RSS grows by several times that with the garbage between collections
   *  (300k odc groups of 190-byte names, always over budget: 32 MiB peaked at 306 MB, 16 MiB at
   *  286 MB, no tracker at 192 MB). A Solaris root has a few thousand hard-link groups, most
   *  complete (forgotten first). */
  maxLinkTrackerBytes: number;
  /** Extended attributes held to be set at the end of the run (extract/xattrs.ts: values,
   *  names and paths, counted). Values come from the image: without a bound a hostile one made
   *  the run hold them all (1.26 GB). A system root has few user attributes; past this they are
   *  kept in the content index only, with a warning. */
  maxXattrPlanBytes: number;
}

export const defaultLimits: Readonly<Limits> = Object.freeze({
  maxPathBytes: 64 * 1024,
  maxLinkTargetBytes: 64 * 1024,
  maxMetaRecordBytes: 1024 * 1024,
  maxPathDepth: 1024,
  maxSymlinkHops: 40,
  maxDecompressionRatio: 100_000,
  maxInflightBytes: 16 * 1024 * 1024,
  maxDumpMapBytes: 64 * 1024 * 1024,
  maxDumpTreeBytes: 64 * 1024 * 1024,
  maxSparseHoleBytes: 1024 ** 4,
  maxLinkTrackerBytes: 8 * 1024 * 1024,
  maxXattrPlanBytes: 16 * 1024 * 1024,
});

export function resolveLimits(overrides: Partial<Limits> | undefined): Limits {
  return { ...defaultLimits, ...(overrides ?? {}) };
}
