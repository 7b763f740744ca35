/**
 * Several byte sources read as one stream, in the order given: the volumes of a multi-volume
 * image (ufsdump/dump written to several tapes or files with -B/-M).
 *
 * This layer only joins bytes; it knows no format. The format checks that the volumes belong
 * together and come in order (a dump reader sees every later volume's TS_TAPE header, with its
 * volume number, date and record number, and names a missing or repeated volume), because only
 * the format knows what a volume header looks like, also under a compression layer.
 */
import type { ByteSource, FileIdentity } from './source.js';

export function concatVolumes(volumes: readonly ByteSource[]): ByteSource {
  if (volumes.length === 1) return volumes[0]!;
  const sizes = volumes.map((v) => v.size);
  const known = sizes.every((s) => s !== undefined);
  const closeAll = async () => {
    await Promise.allSettled(volumes.map((v) => v.close?.()));
  };
  return {
    name: volumes.map((v) => v.name).join(' + '),
    ...(known ? { size: sizes.reduce((a, b) => a! + b!, 0) } : {}),
    ...(volumes.every((v) => v.identity) ? { identity: joinedIdentity(volumes.map((v) => v.identity!)) } : {}),
    async *chunks() {
      try {
        for (const volume of volumes) {
          yield* volume.chunks();
          // release each volume as soon as it is read: a dump may span many large files
          await volume.close?.();
        }
      } finally {
        await closeAll();
      }
    },
    close: closeAll,
  };
}

/** The volumes' identities as one: the set changes when any volume does. */
function joinedIdentity(identities: readonly FileIdentity[]): FileIdentity {
  return {
    opened: identities.map((i) => i.opened).join(','),
    racy: identities.some((i) => i.racy),
    current() {
      const now = identities.map((i) => i.current());
      return now.every((i) => i !== undefined) ? now.join(',') : undefined;
    },
  };
}
