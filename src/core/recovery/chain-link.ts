import { guessParent, type LiveDisk } from './parent-guess.js';
import { descriptorEvidence, descriptorHints, type Candidate } from './scan.js';
import { remnantWhere, type DescriptorRemnant, type VmsdRemnant } from './text-carving.js';

/** Longest chain of freed descriptors followed (bounds a CID cycle in corrupt text). */
const MAX_CHAIN = 32;

/** Prefix of `parent` when a candidate's parent is another candidate. */
export const CANDIDATE_PARENT = 'candidate:';

/** Name a descriptor of this delta extent would have had: `x-000002-delta.vmdk` -> `x-000002.vmdk`. */
function descriptorName(d: DescriptorRemnant): string | null {
  const f = d.extentFile?.split('/').pop();
  return f ? f.replace(/-(delta|sesparse)\.vmdk$/i, '.vmdk') : null;
}

function formatOf(d: DescriptorRemnant): 'vmfsSparse' | 'seSparse' | null {
  return /sesparse/i.test(d.createType) ? 'seSparse' : /vmfssparse/i.test(d.createType) ? 'vmfsSparse' : null;
}

/**
 * Several deleted deltas of one disk (a snapshot chain thrown away by a revert): freed
 * descriptors that chain by CID (child's parentCID = parent's CID; the parentFileNameHint naming
 * the parent descriptor adds weight) are matched to the candidates of the same capacity, format
 * and folder, and each newer candidate gets the next older one as parent ('candidate:<id>').
 * Descriptor text carries no block address, so candidates are ordered by where their header
 * block sits (a later delta's blocks are allocated after the earlier one's): this is a guess,
 * said so in the reasons, and only taken when the chain and the candidates are equally many.
 */
export function linkCandidates(cands: Candidate[], descriptors: readonly DescriptorRemnant[], disks: readonly LiveDisk[], vmsds: readonly VmsdRemnant[] = []): void {
  const delta = descriptors.filter((d) => formatOf(d) !== null);
  const byCid = new Map<string, DescriptorRemnant[]>();
  for (const d of delta) byCid.set(d.cid, [...(byCid.get(d.cid) ?? []), d]);
  const parentOf = (d: DescriptorRemnant): DescriptorRemnant | null => {
    const ps = (byCid.get(d.parentCid) ?? []).filter((p) => p !== d && p.capacityBytes === d.capacityBytes && formatOf(p) === formatOf(d));
    return ps.length === 1 ? ps[0]! : null;
  };
  const childrenOf = (p: DescriptorRemnant): DescriptorRemnant[] => delta.filter((d) => d !== p && parentOf(d) === p);
  const used = new Set<Candidate>();
  for (const root of delta) {
    if (parentOf(root)) continue;
    const chain = [root];
    for (let cur = root; chain.length < MAX_CHAIN; ) {
      const kids = childrenOf(cur);
      if (kids.length !== 1 || chain.includes(kids[0]!)) break;
      cur = kids[0]!;
      chain.push(cur);
    }
    if (chain.length < 2) continue;
    const fmt = formatOf(root);
    const group = cands
      .filter((c) => !used.has(c) && c.capacityBytes === root.capacityBytes && c.format === fmt && (c.dirFd === 0 || root.parentDir === 0 || c.dirFd === root.parentDir))
      .sort((a, b) => a.headerVolOffset - b.headerVolOffset);
    if (group.length !== chain.length) continue;
    group.forEach((c, k) => {
      used.add(c);
      const d = chain[k]!;
      c.descriptor = d;
      c.evidence = c.evidence.filter((e) => e.kind !== 'descriptor' && e.kind !== 'descriptor-text' && (k === 0 || e.kind !== 'vmsd-text'));
      c.evidence.push(descriptorEvidence(d, ` (link ${k + 1} of a chain of ${chain.length} recovered descriptors)`));
      if (k === 0) {
        const g = guessParent(disks, c.capacityBytes, { ...(c.dirFd ? { dirFd: c.dirFd } : {}), ...descriptorHints(d, disks), vmsds });
        c.parent = g.path;
        c.parentReasons = g.reasons;
        delete c.parentCandidate;
      } else {
        const p = group[k - 1]!;
        const pd = chain[k - 1]!;
        const hint = d.parentFileNameHint?.split('/').pop() ?? null;
        // The live-parent guess made before linking no longer applies: the parent is the candidate.
        const had = c.parent !== null;
        c.reasons = c.reasons.filter((r) => !/^\+0(\.2)? (parent guess|no parent)/.test(r));
        c.reasons.push(`+0.2 parent: the recovered delta ${p.id} (see parentReasons)`);
        if (!had) c.confidence = Math.min(1, Math.round((c.confidence + 0.2) * 1000) / 1000);
        c.parent = CANDIDATE_PARENT + p.id;
        c.parentCandidate = p;
        c.parentReasons = [
          `${where(d)} names parentCID ${d.parentCid}, the CID of ${where(pd)}`,
          ...(hint && hint === descriptorName(pd) ? [`its parentFileNameHint "${hint}" names that descriptor (extent "${pd.extentFile}")`] : []),
          `${p.id} has the same capacity (${c.capacityBytes} bytes) and format`,
          `of the ${chain.length} deleted deltas, ${p.id}'s blocks come before ${c.id}'s on the volume: taken as the older link (descriptors carry no block address)`,
        ];
      }
      if (k === chain.length - 1) {
        c.confidence = Math.min(1, Math.round((c.confidence + 0.1) * 1000) / 1000);
        c.reasons.push(`+0.1 newest link of a chain of ${chain.length} deleted deltas (freed descriptors chained by CID)`);
      } else {
        c.confidence = Math.max(0, Math.round((c.confidence - 0.05) * 1000) / 1000);
        c.reasons.push(`-0.05 a newer deleted delta (${group[k + 1]!.id}) sits on this one: not the newest state`);
      }
    });
  }
}

function where(d: DescriptorRemnant): string {
  return d.location === 'freed-fd' ? `freed descriptor ${d.fd}` : `descriptor text in ${remnantWhere(d)}`;
}
