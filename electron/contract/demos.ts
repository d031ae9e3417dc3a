// Plain data, no zod: the renderer imports it too, and should not pull the schemas in.
/** The demo datasets shipped in resources/datasets (real data; licences in its LICENSE.md). */
export const demoDatasets = {
  'breast-cancer': {
    file: 'breast-cancer.csv',
    subjectColumn: 'patient_id',
    labelColumn: 'diagnosis',
    imageShape: undefined,
    description:
      'Breast Cancer Wisconsin (Diagnostic): 569 patients, 30 measurements, benign or malignant. CC BY 4.0.',
  },
  digits: {
    file: 'digits.csv',
    subjectColumn: 'subject_id',
    labelColumn: 'digit',
    /** The 64 pixel columns are 8×8 grey images: a CNN can be trained on them. */
    imageShape: [8, 8, 1],
    description: 'Handwritten digits (UCI): 1,797 8×8 images written by 180 people. CC BY 4.0.',
  },
} as const
