import { describe, expect, it } from 'vitest';
import { canReopen, describeChange, mergeSession, sessionId, validSessions, type FileStamp, type SessionRecord } from '../../src/app/state/sessions.js';

/** The recent-sessions list logic (the IndexedDB part runs in the e2e spec). */

const stamp = (name: string, size = 100, lastModified = 1_700_000_000_000): FileStamp => ({ name, size, lastModified });
const fakeHandle = (name: string) => ({ kind: 'file', name }) as unknown as FileSystemFileHandle;

function rec(files: FileStamp[], o: Partial<SessionRecord> = {}): SessionRecord {
  const kind = o.kind ?? 'datastore';
  return { v: 1, kind, id: sessionId(kind, files), handles: null, directory: null, files, label: null, uuid: null, top: null, openedAt: 0, ...o };
}

describe('sessions list', () => {
  it('identity: kind, names, sizes and dates', () => {
    const a = [stamp('a.img')];
    expect(sessionId('datastore', a)).toBe(sessionId('datastore', [stamp('a.img')]));
    expect(sessionId('datastore', a)).not.toBe(sessionId('vmdk', a));
    expect(sessionId('datastore', a)).not.toBe(sessionId('datastore', [stamp('a.img', 101)]));
    expect(sessionId('datastore', a)).not.toBe(sessionId('datastore', [stamp('a.img', 100, 1)]));
    expect(sessionId('vmdk', a)).not.toBe(sessionId('vmdk', a, true));
  });

  it('newest first, the same session moves to the top, at most max entries', () => {
    let list: SessionRecord[] = [];
    for (let i = 0; i < 10; i++) list = mergeSession(list, rec([stamp(`d${i}.img`)], { openedAt: i }), 8);
    expect(list.map((r) => r.files[0]!.name)).toEqual(['d9.img', 'd8.img', 'd7.img', 'd6.img', 'd5.img', 'd4.img', 'd3.img', 'd2.img']);
    list = mergeSession(list, rec([stamp('d5.img')], { openedAt: 20 }), 8);
    expect(list.map((r) => r.files[0]!.name)).toEqual(['d5.img', 'd9.img', 'd8.img', 'd7.img', 'd6.img', 'd4.img', 'd3.img', 'd2.img']);
    expect(list[0]!.openedAt).toBe(20);
  });

  it('reopening the same files without handles keeps the saved handles, label and top', () => {
    const files = [stamp('lun0.img'), stamp('lun1.img', 200)];
    const withHandles = rec(files, { handles: [fakeHandle('lun0.img'), fakeHandle('lun1.img')], label: 'ds1', uuid: 'u1' });
    const list = mergeSession(mergeSession([], withHandles), rec(files, { openedAt: 5 }));
    expect(list).toHaveLength(1);
    expect(canReopen(list[0]!)).toBe(true);
    expect(list[0]!.handles!.map((h) => h.name)).toEqual(['lun0.img', 'lun1.img']);
    expect(list[0]!.label).toBe('ds1');
    expect(list[0]!.openedAt).toBe(5);
    expect(canReopen(rec(files))).toBe(false);
  });

  it('drops malformed stored entries', () => {
    const good = rec([stamp('a')]);
    expect(validSessions([good, null, { v: 2 }, { v: 1, id: 'x', kind: 'other', files: [] }, 'str'])).toEqual([good]);
    expect(validSessions(undefined)).toEqual([]);
    expect(validSessions({})).toEqual([]);
  });

  it('says which file changed and how', () => {
    const saved = [stamp('lun0.img'), stamp('lun1.img', 200)];
    expect(describeChange('datastore', saved, [stamp('lun0.img'), stamp('lun1.img', 200)])).toBeNull();
    const size = describeChange('datastore', saved, [stamp('lun0.img'), stamp('lun1.img', 300)])!;
    expect(size).toContain('lun1.img changed');
    expect(size).toContain('200 bytes and is now 300');
    expect(size).toContain('Open datastore dump');
    const date = describeChange('vmdk', saved, [stamp('lun0.img', 100, 1_800_000_000_000), stamp('lun1.img', 200)])!;
    expect(date).toContain('lun0.img changed');
    expect(date).toContain('last modified');
    expect(date).toContain('Open VMDK files');
    expect(describeChange('datastore', saved, [stamp('lun0.img')])).toContain('lun1.img is missing');
  });
});
