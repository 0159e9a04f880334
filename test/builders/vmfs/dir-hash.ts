export * from '../../../src/core/synth/vmfs/dir-hash.js';
