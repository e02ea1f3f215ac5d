/** Models: builders (ResNet-50, LeNet, VGG and DenseNet among them), the classifier-as-function view, weight files. @module */
export * from "./build.ts";
export * from "./classifier.ts";
export * from "./representation.ts";
export * from "./weights.ts";
export * from "./resnet50.ts";
export * from "./families.ts";
export * from "./logistic_binary.ts";
