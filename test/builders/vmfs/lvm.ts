export * from '../../../src/core/synth/vmfs/lvm.js';
