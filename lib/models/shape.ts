/** The input and output shape every model builder takes. @module */

/** Input shape and number of classes. */
export interface ModelShape {
  inputShape: [number, number, number];
  classes: number;
}
