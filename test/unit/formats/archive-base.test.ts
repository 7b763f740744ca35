/**
 * The Solaris installer's archive-base rule (src/formats/archive-base.ts; get_archive_base in
 * the brands' shared common.ksh, solaris-p2v.md 1.5): each case is an archive layout an
 * administrator could hand to `zoneadm install -a`, with the directory the installer would
 * extract it in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { archiveBase, lastComponent, rebaseName, topComponent } from '../../../src/formats/archive-base.js';

const zonepath = '/zones/web1';

test('a physical root or zone root archive: several top-level dirs among bin, etc, var', () => {
  const names = ['./', './bin', './etc', './etc/passwd', './usr/bin/ls', './var/adm', './root/.profile'];
  const base = archiveBase(names, { zonepath });
  assert.equal(base.kind, 'zoneroot');
  assert.equal(base.certain, true, 'bin/etc/var seen: no later name can change it');
  assert.deepEqual(base.kind === 'zoneroot' && base.topNames, ['bin', 'etc', 'root', 'usr', 'var']);
  // without "./" as well; a "root" home directory does not make it a zonepath archive
  assert.equal(archiveBase(['etc/passwd', 'root/.profile', 'var/adm/messages'], { zonepath }).kind, 'zoneroot');
});

test('an archive made inside the zonepath: a single top-level "root"', () => {
  const names = ['root', 'root/etc', 'root/etc/passwd', './root/var/adm'];
  const partial = archiveBase(names, { zonepath });
  assert.deepEqual(partial, { kind: 'zonepath', certain: false, topNames: ['root'] });
  assert.equal(archiveBase(names, { zonepath, complete: true }).certain, true);
  // "." and "./" name the archive's own top and are not counted (find . | cpio -o)
  assert.equal(archiveBase(['.', './', './root', './root/etc/passwd'], { zonepath }).kind, 'zonepath');
});

test('inside the zonepath with zonepath-level files: root plus others, no bin/etc/var', () => {
  const base = archiveBase(['SUNWdetached.xml', 'root/etc/passwd', 'root/usr/bin/ls', 'lu/'], { zonepath, complete: true });
  assert.equal(base.kind, 'zonepath');
  assert.equal(base.certain, true);
  // streaming: the first names only; a later bin/ would make it a root archive
  assert.equal(archiveBase(['SUNWdetached.xml', 'root/etc/passwd'], { zonepath }).certain, false);
});

test('an archive of the zonepath itself: a single top dir named like the zonepath', () => {
  const names = ['web1/', 'web1/root/etc/passwd', 'web1/SUNWdetached.xml'];
  const base = archiveBase(names, { zonepath });
  assert.deepEqual(base, { kind: 'zonepath-parent', certain: false, top: 'web1', topNames: ['web1'] });
  assert.equal(archiveBase(names, { zonepath: '/zones/web1/' }).kind, 'zonepath-parent', 'trailing slash on the zonepath');
});

test('a single top dir that is neither root nor the zonepath name: mismatch (the installer refuses)', () => {
  const base = archiveBase(['web2/root/etc/passwd'], { zonepath, complete: true });
  assert.deepEqual(base, { kind: 'mismatch', certain: true, top: 'web2', expected: 'web1', topNames: ['web2'] });
  // a readdir-ordered root archive whose first N names all lie in usr/ looks the same, but is not certain
  const early = archiveBase(['usr', 'usr/bin', 'usr/bin/ls'], { zonepath });
  assert.equal(early.kind, 'mismatch');
  assert.equal(early.certain, false);
});

test('absolute member names are refused, whatever else the archive holds', () => {
  assert.deepEqual(archiveBase(['etc/passwd', '/etc/shadow', 'var'], { zonepath }), { kind: 'absolute', certain: true, name: '/etc/shadow' });
});

test('several names without root and without bin/etc/var: a root archive, not yet certain', () => {
  const base = archiveBase(['opt/app', 'export/home'], { zonepath });
  assert.equal(base.kind, 'zoneroot');
  assert.equal(base.certain, false, 'a later "root" would make it a zonepath archive');
  assert.equal(archiveBase(['opt/app', 'export/home'], { zonepath, complete: true }).certain, true);
  assert.equal(archiveBase([], { zonepath }).kind, 'zoneroot', 'no names at all');
});

test('byte-string names: a UTF-8 zonepath component matches the archive\'s bytes', () => {
  const top = Buffer.from('zöne', 'utf8').toString('latin1'); // as entries carry names
  assert.equal(archiveBase([`${top}/root/etc/passwd`], { zonepath: '/zones/zöne' }).kind, 'zonepath-parent');
});

test('rebaseName: names relative to the zone root under each verdict', () => {
  const root = archiveBase(['bin', 'etc'], { zonepath });
  assert.equal(rebaseName('./etc/passwd', root), 'etc/passwd');
  assert.equal(rebaseName('.', root), '');

  const inside = archiveBase(['root/etc'], { zonepath });
  assert.equal(rebaseName('root/etc/passwd', inside), 'etc/passwd');
  assert.equal(rebaseName('./root', inside), '');
  assert.equal(rebaseName('root/', inside), '');
  assert.equal(rebaseName('SUNWdetached.xml', inside), undefined, 'zonepath-level files are not in the zone root');
  assert.equal(rebaseName('rootfs/x', inside), undefined, 'a sibling that only starts like root');

  const parent = archiveBase(['web1/root/etc'], { zonepath });
  assert.equal(rebaseName('web1/root/etc/passwd', parent), 'etc/passwd');
  assert.equal(rebaseName('web1', parent), undefined);
  assert.equal(rebaseName('web1/SUNWdetached.xml', parent), undefined);

  assert.equal(rebaseName('etc', archiveBase(['/etc'], { zonepath })), undefined, 'refused verdicts place nothing');
});

test('helpers: first and last components', () => {
  assert.equal(topComponent('./././etc/passwd'), 'etc');
  assert.equal(topComponent('etc'), 'etc');
  assert.equal(topComponent('./'), '');
  assert.equal(topComponent('.'), '');
  assert.equal(lastComponent('/zones/web1//'), 'web1');
  assert.equal(lastComponent('/'), '');
});
