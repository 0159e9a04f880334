export * from '../../../src/core/synth/vmfs/resource.js';
