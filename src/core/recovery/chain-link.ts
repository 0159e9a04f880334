import { guessParent, type LiveDisk } from './parent-guess.js';
import type { Candidate } from './candidate.js';
import { parentPart, rescore } from './candidate-score.js';
import { descriptorEvidence, descriptorHints } from './descriptor-evidence.js';
import { byIdentityThenCompleteness, IDENTITY_WEIGHTS as W, type IdentityKey, type WeightedPart } from './score.js';
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

/** Unix seconds as an ISO time for reasons. */
function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The order of `group` (deleted deltas of one disk) from oldest to newest link, and whether it
 * rests on evidence. Evidence: the freed delta FDs' modification times, all known and distinct
 * (a link stops changing when the next snapshot freezes it, so the older link's last write comes
 * first). Otherwise the header blocks' order on the volume, which freed blocks being reused makes
 * a guess.
 */
function chainOrder(group: Candidate[]): { order: Candidate[]; why: (older: Candidate, newer: Candidate) => string; guessed: boolean } {
  const times = group.map((c) => c.fdTimes?.mtime ?? 0);
  if (times.every((t) => t > 0) && new Set(times).size === times.length) {
    return {
      order: [...group].sort((a, b) => a.fdTimes!.mtime - b.fdTimes!.mtime),
      why: (o, n) => `${o.id}'s freed FD ${o.fdTimes!.fd} was last modified at ${iso(o.fdTimes!.mtime)}, before ${n.id}'s freed FD ${n.fdTimes!.fd} (${iso(n.fdTimes!.mtime)}): a link stops changing when the next snapshot freezes it, so ${o.id} is the older link`,
      guessed: false,
    };
  }
  return {
    order: [...group].sort((a, b) => a.headerVolOffset - b.headerVolOffset),
    why: (o, n) => `order GUESSED: no freed FD dates the links, so ${o.id} is taken as the older link because its header block comes before ${n.id}'s on the volume (freed blocks are reused, so this may be wrong)`,
    guessed: true,
  };
}

/**
 * Several deleted deltas of one disk (a snapshot chain thrown away by a revert): freed
 * descriptors that chain by CID (child's parentCID = parent's CID; the parentFileNameHint naming
 * the parent descriptor adds weight) are matched to the candidates of the same capacity, format
 * and folder, and each newer candidate gets the next older one as parent ('candidate:<id>').
 * Descriptor text carries no block address: the candidates' order comes from their freed FDs'
 * times where they survive (chainOrder), else from their header blocks, said to be a guess in
 * the reasons and costing identity. Only taken when the chain and the candidates are equally many.
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
    const candidatesOfDisk = cands.filter((c) => !used.has(c) && c.capacityBytes === root.capacityBytes && c.format === fmt && (c.dirFd === 0 || root.parentDir === 0 || c.dirFd === root.parentDir));
    if (candidatesOfDisk.length !== chain.length) continue;
    const { order: group, why, guessed } = chainOrder(candidatesOfDisk);
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
        c.parentAmbiguous = g.ambiguous;
        c.parentAlternatives = g.alternatives;
        delete c.parentCandidate;
        setPart(c, parentPart(g));
      } else {
        const p = group[k - 1]!;
        const pd = chain[k - 1]!;
        const hint = d.parentFileNameHint?.split('/').pop() ?? null;
        // The live-parent guess made before linking no longer applies: the parent is the candidate.
        c.parent = CANDIDATE_PARENT + p.id;
        c.parentCandidate = p;
        c.parentAmbiguous = false;
        c.parentAlternatives = [];
        c.parentReasons = [
          `${where(d)} names parentCID ${d.parentCid}, the CID of ${where(pd)}`,
          ...(hint && hint === descriptorName(pd) ? [`its parentFileNameHint "${hint}" names that descriptor (extent "${pd.extentFile}")`] : []),
          `${p.id} has the same capacity (${c.capacityBytes} bytes) and format`,
          why(p, c),
        ];
        setPart(c, { key: 'parent', weight: W.parent, effect: 'for', kind: 'parent-candidate', text: `its parent is the recovered delta ${p.id}: ${where(d)} names the CID of ${where(pd)} as its parentCID` });
      }
      if (guessed) setPart(c, { key: 'chain-order', weight: W.chainOrderGuessed, effect: 'against', kind: 'chain-order-guessed', text: `its place in the chain of ${chain.length} deleted deltas is a guess (header block order: no freed FD dates the links)` });
      setPart(c, k === chain.length - 1
        ? { key: 'chain-place', weight: 0, effect: 'note', kind: 'chain-newest', text: `it is the newest link of a chain of ${chain.length} deleted deltas (freed descriptors chained by CID)` }
        : { key: 'chain-place', weight: 0, effect: 'note', kind: 'chain-older', text: `a newer deleted delta (${group[k + 1]!.id}) sits on it: it is not the newest state` });
      rescore(c);
    });
  }
}

/** Puts `part` in place of the candidate's part of the same key (or adds it). */
function setPart(c: Candidate, part: WeightedPart): void {
  const key: IdentityKey = part.key;
  c.identityParts = [...c.identityParts.filter((x) => x.key !== key), part];
}

/**
 * Candidates best first, with a chain's newest recovered delta before its ancestors (a user
 * wants the newest state; its ancestors follow it right away): the chains and the lone
 * candidates by identity, then completeness, each chain listed newest link first.
 */
export function orderCandidates(cands: Candidate[]): Candidate[] {
  const byConfidence = [...cands].sort((a, b) => byIdentityThenCompleteness(a, b) || b.recoverableGrains - a.recoverableGrains || a.headerVolOffset - b.headerVolOffset);
  const child = new Map<Candidate, Candidate[]>();
  for (const c of cands) if (c.parentCandidate && cands.includes(c.parentCandidate)) child.set(c.parentCandidate, [...(child.get(c.parentCandidate) ?? []), c]);
  const out: Candidate[] = [];
  const done = new Set<Candidate>();
  for (const c of byConfidence) {
    if (done.has(c)) continue;
    // Up to the newest descendant (the best child at each step), then down through the ancestors.
    let top = c;
    for (let n = 0; n < MAX_CHAIN; n++) {
      const kids = (child.get(top) ?? []).filter((k) => !done.has(k));
      if (kids.length === 0) break;
      top = kids.sort((a, b) => byConfidence.indexOf(a) - byConfidence.indexOf(b))[0]!;
    }
    for (let x: Candidate | undefined = top, n = 0; x && !done.has(x) && n <= MAX_CHAIN; x = x.parentCandidate, n++) {
      if (!cands.includes(x)) break;
      done.add(x);
      out.push(x);
    }
  }
  return out;
}

function where(d: DescriptorRemnant): string {
  return d.location === 'freed-fd' ? `freed descriptor ${d.fd}` : `descriptor text in ${remnantWhere(d)}`;
}
