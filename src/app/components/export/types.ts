import type { ExportFormat } from '../../../core/export/export-disk.js';

export interface FormatOption {
  value: ExportFormat;
  label: string;
}

/** Where the wizard writes: a file or folder the user picks, or browser storage (OPFS) then a download. */
export type WizardDestination = 'pick' | 'download';

/** What the wizard shows once an export ended. */
export interface WizardOutcome {
  state: 'done' | 'cancelled' | 'failed';
  sha256?: string;
  verified?: boolean;
  files?: string[];
  /** The files were offered as downloads (browser storage). */
  downloaded?: boolean;
  summary?: string;
  warnings?: string[];
  error?: string;
}
