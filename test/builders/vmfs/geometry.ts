export * from '../../../src/core/synth/vmfs/geometry.js';
