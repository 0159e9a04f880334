export * from '../../../src/core/synth/vmfs/crc32.js';
