import protobuf from "protobufjs";

/**
 * The subset of ONNX's `onnx.proto` (IR version 8) that a decoder export needs, as a protobufjs JSON
 * descriptor written from the spec's field numbers. Written here rather than taken from `onnx-proto`,
 * whose latest release (8.0.1) still depends on protobufjs 6; fields this writer never sets (sparse
 * tensors, training info, functions) are left out, which protobuf tolerates when reading. External data
 * (`TensorProto.external_data` 13, `data_location` 14) is written for models past protobuf's 2 GiB limit.
 */
const ONNX_DESCRIPTOR: protobuf.INamespace = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            refAttrName: { type: "string", id: 21 },
            docString: { type: "string", id: 13 },
            type: { type: "AttributeType", id: 20 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            g: { type: "GraphProto", id: 6 },
            floats: { rule: "repeated", type: "float", id: 7 },
            ints: { rule: "repeated", type: "int64", id: 8 },
            strings: { rule: "repeated", type: "bytes", id: 9 },
            tensors: { rule: "repeated", type: "TensorProto", id: 10 },
            graphs: { rule: "repeated", type: "GraphProto", id: 11 },
          },
          nested: {
            AttributeType: {
              values: {
                UNDEFINED: 0,
                FLOAT: 1,
                INT: 2,
                STRING: 3,
                TENSOR: 4,
                GRAPH: 5,
                FLOATS: 6,
                INTS: 7,
                STRINGS: 8,
                TENSORS: 9,
                GRAPHS: 10,
              },
            },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "TypeProto", id: 2 },
            docString: { type: "string", id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            domain: { type: "string", id: 7 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: "string", id: 1 },
            value: { type: "string", id: 2 },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: "string", id: 1 },
            version: { type: "int64", id: 2 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
            valueInfo: { rule: "repeated", type: "ValueInfoProto", id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: { packed: true } },
            int32Data: { rule: "repeated", type: "int32", id: 5, options: { packed: true } },
            stringData: { rule: "repeated", type: "bytes", id: 6 },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: { packed: true } },
            name: { type: "string", id: 8 },
            docString: { type: "string", id: 12 },
            rawData: { type: "bytes", id: 9 },
            doubleData: { rule: "repeated", type: "double", id: 10, options: { packed: true } },
            uint64Data: { rule: "repeated", type: "uint64", id: 11, options: { packed: true } },
            externalData: { rule: "repeated", type: "StringStringEntryProto", id: 13 },
            dataLocation: { type: "int32", id: 14 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: "repeated", type: "Dimension", id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: {
                dimValue: { type: "int64", id: 1 },
                dimParam: { type: "string", id: 2 },
                denotation: { type: "string", id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ["tensorType"] } },
          fields: {
            tensorType: { type: "Tensor", id: 1 },
            denotation: { type: "string", id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: "int32", id: 1 },
                shape: { type: "TensorShapeProto", id: 2 },
              },
            },
          },
        },
      },
    },
  },
};

/** `TensorProto.DataType` values used here (ONNX's enum numbers). */
export const OnnxDataType = {
  FLOAT: 1,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
} as const;
/** One of {@link OnnxDataType}'s values. */
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** `AttributeProto.AttributeType` values used here. */
export const OnnxAttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  FLOATS: 6,
  INTS: 7,
} as const;

/** A dimension: a fixed size or a named dynamic axis. */
export type OnnxDimension = { dimValue: number } | { dimParam: string };

/** `TensorProto.DataLocation`: the data is in `raw_data` (DEFAULT) or in a file beside the model (EXTERNAL). */
export const OnnxDataLocation = {
  DEFAULT: 0,
  EXTERNAL: 1,
} as const;

/**
 * `TensorProto` as this writer fills it: raw little-endian bytes in `rawData`, or, for external data,
 * no `rawData` but `dataLocation: EXTERNAL` and `externalData` entries `location` (a path relative to
 * the model file's folder), `offset` and `length` (bytes, as decimal strings), as the ONNX spec has it.
 */
export interface OnnxTensorMessage {
  name: string;
  dims: number[];
  dataType: OnnxDataTypeCode;
  rawData?: Uint8Array;
  externalData?: { key: string; value: string }[];
  dataLocation?: (typeof OnnxDataLocation)[keyof typeof OnnxDataLocation];
}

/** `AttributeProto` as this writer fills it. */
export interface OnnxAttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

/** `NodeProto` as this writer fills it. */
export interface OnnxNodeMessage {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: OnnxAttributeMessage[];
  domain?: string;
}

/** `ValueInfoProto` for a tensor input or output. */
export interface OnnxValueInfoMessage {
  name: string;
  type: { tensorType: { elemType: OnnxDataTypeCode; shape: { dim: OnnxDimension[] } } };
  docString?: string;
}

/** `GraphProto` as this writer fills it. */
export interface OnnxGraphMessage {
  name: string;
  node: OnnxNodeMessage[];
  initializer: OnnxTensorMessage[];
  input: OnnxValueInfoMessage[];
  output: OnnxValueInfoMessage[];
  docString?: string;
}

/** `ModelProto` as this writer fills it. */
export interface OnnxModelMessage {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: OnnxGraphMessage;
  metadataProps: { key: string; value: string }[];
}

let modelType: protobuf.Type | undefined;

/** protobufjs' `onnx.ModelProto` type, built once from the descriptor. */
export function onnxModelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType("onnx.ModelProto");
  return modelType;
}

/**
 * Serializes a model to ONNX's binary protobuf encoding.
 * @throws Error from protobufjs when a field has the wrong type (a bug here, not user input).
 */
export function encodeOnnxModel(model: OnnxModelMessage): Uint8Array {
  const type = onnxModelProtoType();
  return type.encode(type.fromObject(model as unknown as Record<string, unknown>)).finish();
}

/**
 * Decodes an ONNX file's bytes back into plain objects (int64 fields as numbers, bytes as Uint8Array);
 * used to read the metadata of an exported file and by tests.
 * @throws Error from protobufjs for bytes that are not a ModelProto.
 */
export function decodeOnnxModel(bytes: Uint8Array): Record<string, unknown> {
  const type = onnxModelProtoType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false }) as Record<string, unknown>;
}
