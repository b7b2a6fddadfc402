// Type declarations of the `webtune` package (browser and Node entries share them; Node-only
// exports are marked).

/** Every failure is a WebtuneError with a stable code, e.g. "WT_ERR_CORRUPT", "WT_ERR_ABORTED". */
export class WebtuneError extends Error {
  readonly code:
    | 'WT_ERR_INVALID_ARGUMENT' | 'WT_ERR_SHAPE' | 'WT_ERR_OUT_OF_MEMORY' | 'WT_ERR_NOT_FINITE' | 'WT_ERR_STATE'
    | 'WT_ERR_NOT_FOUND' | 'WT_ERR_UNSUPPORTED' | 'WT_ERR_CORRUPT' | 'WT_ERR_IO' | 'WT_ERR_THREADS' | 'WT_ERR_ABORTED'
    | 'WT_ERR_DISPOSED' | 'WT_ERR_WORKER' | 'WT_ERR_INIT' | 'WT_ERR_MODULE_ABORTED' | string;
}

export interface InitOptions {
  /** false or 1: single-threaded module; a number: threads to compute on (at most 5); default: up to 4. */
  threads?: boolean | number;
  /** Where webtune-{mt,st}.{js,wasm} are served (a base URL, or a map file name -> URL); Node: a folder. */
  wasmPaths?: string | URL | Record<string, string | URL>;
  /** Where the shipped backbones (index.json, *.webtune) are; Node: a folder. */
  modelsPath?: string | URL;
}

export interface Capabilities {
  variant: 'mt' | 'st';
  threads: number;
  simd: true;
  environment: 'browser' | 'node';
  /** Why this variant runs, e.g. "threads off: page is not cross-origin isolated; serve it with ...". */
  reason: string;
}

/** Loads the wasm module in a worker. Idempotent. */
export function init(options?: InitOptions): Promise<Capabilities>;
/** What init() chose, or null before it. */
export function capabilities(): Capabilities | null;
/** Stops the worker; classifiers are gone; a later call starts a fresh worker. */
export function terminate(): Promise<void>;
/** Bytes held by the wasm heap. */
export function memory(): Promise<{ heapBytes: number }>;

export interface BackboneInfo { name: string; file: string; embeddingDim: number; inputSize: [number, number]; sha256: string; bytes: number }
export function listBackbones(): Promise<{ default: string; backbones: BackboneInfo[] }>;

/** A shipped backbone name, a URL or path (.webtune or TF.js model.json), model-file bytes, or a TF.js model. */
export type BackboneSource =
  | string
  | { url: string; name?: string }
  | { bytes: ArrayBuffer | Uint8Array; name?: string }
  | { modelJson: string | object | Uint8Array; weights: Record<string, ArrayBuffer | Uint8Array> | Map<string, ArrayBuffer | Uint8Array>; name?: string };

/** Raw pixels: RGBA (4 bytes per pixel) or RGB (3). */
export interface RawImage { data: Uint8Array | Uint8ClampedArray | ArrayBuffer; width: number; height: number }

/** Encoded JPEG/PNG bytes, raw pixels, browser image sources, or (Node) a file path. */
export type ImageInput =
  | ArrayBuffer | Uint8Array | RawImage | string
  | Blob | ImageData | ImageBitmap | HTMLCanvasElement | OffscreenCanvas | HTMLImageElement | HTMLVideoElement | VideoFrame;

export interface ClassifierOptions {
  labels?: string[];
  backbone?: BackboneSource;
  /** Cap on example memory (uint8 at the input size: 147 KB per 224x224 image). Default 1024. */
  memoryBudgetMB?: number;
  /** Dropout before the new dense head (default 0; train({ dropout }) overrides). */
  dropout?: number;
  /** Keep a copy of the examples and the last trained model on the caller's side, so the classifier
   * carries on in a fresh worker if its worker dies (default true; false halves example memory). */
  keepCopy?: boolean;
}

export interface AugmentOptions { crop?: number; aspect?: number; flip?: boolean; rotation?: number; brightness?: number; contrast?: number; saturation?: number }

export interface TrainOptions {
  epochs?: number;            // default 30 with the 'head' strategy, 10 with the others
  batchSize?: number;         // default 16
  learningRate?: number;      // default 1e-3 (head); backbone layers get learningRate * backboneLearningRateScale
  validationSplit?: number;   // fraction of each class held out, default 0
  /** 'head' (default) | 'top:N' | 'layers:<patterns>' | 'layers:batchnorm' | 'full' */
  strategy?: string;
  /** Head first, then the strategy at learningRate * learningRateScale (default 0.1). */
  twoPhase?: boolean | { headEpochs?: number; learningRateScale?: number };
  backboneLearningRateScale?: number; // default 0.1
  optimizer?: 'adam' | 'adamw' | 'sgd';
  weightDecay?: number;
  schedule?: 'constant' | 'step' | 'cosine';
  warmupSteps?: number;
  /** Unfrozen batch norms: 'frozen' (default, stored statistics) or 'batch' (batch statistics). */
  batchNorm?: 'frozen' | 'batch';
  labelSmoothing?: number;
  balanced?: boolean;
  /** Epochs without better validation accuracy before stopping (best weights restored). */
  earlyStopping?: number;
  augment?: boolean | AugmentOptions;
  /** Re-estimate batch-norm statistics on all examples (labelled and unlabelled) before training (AdaBN). */
  adaBN?: boolean;
  /** DANN: domain classifier behind gradient reversal, weight ramping to this value (true = 1); needs addUnlabeled() images and a strategy that trains the backbone. */
  domainAdaptation?: boolean | number;
  /** head strategy: augmented views cached per image (default 8; 1 with augment: false). */
  cacheViews?: number;
  dropout?: number;
  /** A hidden dense layer (with ReLU) in the head; 0 (default) = a linear head. */
  hiddenUnits?: number;
  /** L2-normalise the embedding (scaled to unit root-mean-square) at the start of the head, so it sees only the embedding's direction. */
  normalizeEmbedding?: boolean;
  /** A multi-layer embedding: backbone layer names (e.g. ['block_14_add']) or 'auto'; each is pooled, L2-normalised and joined to the L2-normalised embedding, and the head reads the joined vector. Default: none. */
  embeddingLayers?: string | string[] | 'auto';
  /** On a NaN/infinite loss: 'error' (default, previous model kept) or 'rollback' (finish with the last good epoch; an error too when the first epoch diverges). */
  onDivergence?: 'error' | 'rollback';
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainProgress {
  phase: 'cache' | 'train' | 'epoch' | 'done';
  stage?: 'head' | 'finetune';
  epoch: number; epochs: number; step: number; stepsPerEpoch: number; totalSteps: number;
  cacheDone: number; cacheTotal: number; images: number;
  loss: number; accuracy: number; learningRate: number;
  /** phase 'epoch' / 'done' only */
  epochLoss?: number; epochAccuracy?: number; valAccuracy?: number | null; valLoss?: number | null;
  bestValAccuracy?: number | null; bestEpoch?: number;
  nTrain: number; nVal: number;
  elapsedMs: number; imagesPerSecond: number | null; etaSeconds: number | null;
}

export interface TrainResult extends TrainProgress { labels: string[]; heapBytes: number; diverged: boolean }

export interface Prediction { label: string; probability: number }

export interface Evaluation {
  accuracy: number;
  perClass: Record<string, number | null>;
  /** confusion[true][predicted] */
  confusion: number[][];
  labels: string[];
  n: number;
  errors: Array<{ name?: string; code: string; message: string }>;
}

export interface Classifier {
  readonly labels: string[];
  readonly trainedLabels: string[] | null;
  readonly inputSize: [number, number];
  readonly backbone: string;
  readonly trained: boolean;
  readonly counts: Record<string, number>;
  readonly disposed: boolean;
  addClass(label: string): Promise<string[]>;
  renameClass(from: string, to: string): Promise<string[]>;
  /** Removes the class and its examples. */
  removeClass(label: string): Promise<string[]>;
  clearExamples(label?: string): Promise<void>;
  /** Returns the class's example count. */
  addExample(label: string, image: ImageInput): Promise<number>;
  addExamples(label: string, images: ImageInput[]): Promise<{ added: number; count: number; total: number; errors: Array<{ index: number; name?: string; code: string; message: string }> }>;
  /** Unlabelled images of the target domain, for adaBN and domainAdaptation. */
  addUnlabeled(images: ImageInput[]): Promise<{ added: number; count: number; total: number; errors: Array<{ index: number; name?: string; code: string; message: string }> }>;
  readonly unlabeled: number;
  exportExamples(): Promise<{ width: number; height: number; examples: Array<{ label: string | null; data: Uint8Array }> }>;
  train(options?: TrainOptions): Promise<TrainResult>;
  /** tta: also run the mirrored image and average (test-time augmentation). */
  predict(image: ImageInput, options?: { topK?: number; tta?: boolean }): Promise<Prediction[]>;
  predictBatch(images: ImageInput[], options?: { topK?: number; tta?: boolean }): Promise<Prediction[][]>;
  evaluate(items: Iterable<{ image: ImageInput; label: string }>, options?: { tta?: boolean }): Promise<Evaluation>;
  /** webtune model file bytes (labels, preprocessing and backbone identity included). */
  save(options?: { fp16?: boolean }): Promise<Uint8Array>;
  /** Idempotent; later calls reject with WT_ERR_DISPOSED. */
  dispose(): Promise<void>;
}

export function createClassifier(options?: ClassifierOptions): Promise<Classifier>;
/** A classifier from classifier.save() bytes (Node: also a file path; browser: also a URL or Blob). */
export function loadClassifier(model: ArrayBuffer | Uint8Array | string | Blob, options?: { memoryBudgetMB?: number; keepCopy?: boolean }): Promise<Classifier>;

/** Node only: a folder with one sub-folder of images per class. */
export function readImageFolder(dir: string): Promise<{ labels: string[]; files: Record<string, string[]>; skipped: string[] }>;
