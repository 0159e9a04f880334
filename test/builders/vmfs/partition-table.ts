export * from '../../../src/core/synth/vmfs/partition-table.js';
