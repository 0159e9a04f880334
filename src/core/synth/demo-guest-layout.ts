/**
 * What the demo VM's guest disk holds (shared by the demo builder and the script that makes the
 * images, scripts/make-demo-guest.ts): an MBR with an ext4 partition, an NTFS partition and a raw
 * data partition. After the snapshot the guest changed one file in each file system (the deleted
 * delta holds the new versions) and wrote text sectors into the data partition.
 */
export const DEMO_GUEST = {
  /** Unix seconds: the snapshot (v1 written) and the change after it (v2). */
  snapshotTime: 1764547200, // 2025-12-01T00:00:00Z
  changeTime: 1764633600, // 2025-12-02T00:00:00Z
  ext4: {
    startSector: 2048,
    sectors: 8192,
    label: 'demo-ext4',
    uuid: '5eed0e4a-0000-4000-8000-000000000001',
    readme: 'vmfs-rescue demo: an ext4 file system inside the VM disk.\n',
    changedPath: '/notes/plan.txt',
    before: 'Upgrade plan, as of the snapshot:\n1. take a snapshot\n2. upgrade the database\n',
    after: 'Upgrade plan, after the snapshot:\n1. take a snapshot\n2. upgrade the database: DONE\n3. keep the new data (only the deleted delta holds this version)\n',
  },
  ntfs: {
    startSector: 10240,
    sectors: 6144,
    label: 'demo-ntfs',
    readme: 'vmfs-rescue demo: an NTFS file system inside the VM disk.\r\n',
    changedPath: '/Report.txt',
    before: 'Quarterly report: draft (as of the snapshot)\r\n',
    after: 'Quarterly report: FINAL, written after the snapshot (only the deleted delta holds this version)\r\n',
  },
  /** A partition without a file system (MBR type 0xda, non-FS data): text sectors. */
  data: { startSector: 16384, sectors: 16384 },
} as const;
