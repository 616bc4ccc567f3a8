package dev.attention4j.bench;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds a one-node ONNX model in memory, as protobuf bytes written by hand (ONNX Runtime's Java
 * API ships no ONNX protobuf classes, and one node needs only a dozen fields of {@code onnx.proto}:
 * {@code ModelProto}, {@code GraphProto}, {@code NodeProto}, {@code AttributeProto},
 * {@code ValueInfoProto}, {@code TypeProto}, {@code TensorShapeProto},
 * {@code OperatorSetIdProto}). Field numbers are those of {@code onnx/onnx.proto}.
 */
final class OnnxModel {

  /** {@code TensorProto.DataType}. */
  static final int FLOAT = 1;
  static final int FLOAT16 = 10;

  private final String opType;
  private final String domain;
  private final Map<String, long[]> inputs = new LinkedHashMap<>();
  private final Map<String, Integer> inputTypes = new LinkedHashMap<>();
  private final Map<String, long[]> outputs = new LinkedHashMap<>();
  private final Map<String, Integer> outputTypes = new LinkedHashMap<>();
  private final Map<String, Long> intAttributes = new LinkedHashMap<>();
  private final Map<String, Float> floatAttributes = new LinkedHashMap<>();
  private long irVersion = 10;
  private int opset = 21;

  /** A node {@code opType} of {@code domain} ({@code ""} = the default ONNX domain). */
  OnnxModel(String opType, String domain) {
    this.opType = opType;
    this.domain = domain;
  }

  OnnxModel input(String name, int elemType, long... shape) {
    inputs.put(name, shape);
    inputTypes.put(name, elemType);
    return this;
  }

  OnnxModel output(String name, int elemType, long... shape) {
    outputs.put(name, shape);
    outputTypes.put(name, elemType);
    return this;
  }

  OnnxModel attribute(String name, long value) {
    intAttributes.put(name, value);
    return this;
  }

  OnnxModel attribute(String name, float value) {
    floatAttributes.put(name, value);
    return this;
  }

  /** The default domain's opset (and the IR version that goes with it). */
  OnnxModel opset(int opset, long irVersion) {
    this.opset = opset;
    this.irVersion = irVersion;
    return this;
  }

  byte[] toBytes() {
    Proto node = new Proto();
    for (String in : inputs.keySet()) {
      node.string(1, in);
    }
    for (String out : outputs.keySet()) {
      node.string(2, out);
    }
    node.string(3, "attention");
    node.string(4, opType);
    for (Map.Entry<String, Long> a : intAttributes.entrySet()) {
      node.message(5, new Proto().string(1, a.getKey()).varint(3, a.getValue()).varint(20, 2));
    }
    for (Map.Entry<String, Float> a : floatAttributes.entrySet()) {
      node.message(5, new Proto().string(1, a.getKey()).fixed32(2, a.getValue()).varint(20, 1));
    }
    if (!domain.isEmpty()) {
      node.string(7, domain);
    }
    Proto graph = new Proto().message(1, node).string(2, "g");
    for (Map.Entry<String, long[]> in : inputs.entrySet()) {
      graph.message(11, valueInfo(in.getKey(), inputTypes.get(in.getKey()), in.getValue()));
    }
    for (Map.Entry<String, long[]> out : outputs.entrySet()) {
      graph.message(12, valueInfo(out.getKey(), outputTypes.get(out.getKey()), out.getValue()));
    }
    Proto model = new Proto().varint(1, irVersion).string(2, "attention4j-benchmarks");
    model.message(8, new Proto().string(1, "").varint(2, opset));
    if (!domain.isEmpty()) {
      model.message(8, new Proto().string(1, domain).varint(2, 1));
    }
    model.message(7, graph);
    return model.bytes();
  }

  private static Proto valueInfo(String name, int elemType, long[] shape) {
    Proto dims = new Proto();
    for (long d : shape) {
      dims.message(1, new Proto().varint(1, d));
    }
    Proto tensor = new Proto().varint(1, elemType).message(2, dims);
    return new Proto().string(1, name).message(2, new Proto().message(1, tensor));
  }

  /** Protobuf wire format: varint (0), 32-bit (5) and length-delimited (2) fields. */
  private static final class Proto {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Proto varint(int field, long value) {
      raw((long) field << 3);
      raw(value);
      return this;
    }

    Proto fixed32(int field, float value) {
      raw(((long) field << 3) | 5);
      int bits = Float.floatToIntBits(value);
      for (int i = 0; i < 4; i++) {
        out.write(bits >>> (8 * i));
      }
      return this;
    }

    Proto string(int field, String value) {
      return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    Proto message(int field, Proto value) {
      return bytes(field, value.bytes());
    }

    private Proto bytes(int field, byte[] value) {
      raw(((long) field << 3) | 2);
      raw(value.length);
      out.writeBytes(value);
      return this;
    }

    private void raw(long value) {
      while ((value & ~0x7FL) != 0) {
        out.write((int) ((value & 0x7F) | 0x80));
        value >>>= 7;
      }
      out.write((int) value);
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }
}
