package io.sparserender.driver.spark;

import com.esotericsoftware.kryo.Kryo;

/**
 * Registers every class sparse-render ships through Kryo ({@code spark.kryo.registrationRequired=true},
 * so an unregistered class fails loudly instead of being written with its full name). Spark ships
 * Kryo 4, which cannot serialise Java records without a hand-written serializer: shipped types are
 * plain classes or Spark SQL rows.
 */
public final class KryoRegistrator implements org.apache.spark.serializer.KryoRegistrator {
    @Override
    public void registerClasses(Kryo kryo) {
        kryo.register(byte[][].class);
        kryo.register(Object[].class);
        kryo.register(java.util.ArrayList.class);
        kryo.register(java.util.HashMap.class);
        // Spark SQL ships schemas (e.g. of Parquet writes) through Kryo without registering their types.
        for (String name : SPARK_SQL_TYPES) {
            try {
                kryo.register(Class.forName(name));
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("Cannot register " + name + " with Kryo: not on the classpath", e);
            }
        }
    }

    private static final String[] SPARK_SQL_TYPES = {
        "org.apache.spark.sql.types.StructType",
        "org.apache.spark.sql.types.StructField",
        "[Lorg.apache.spark.sql.types.StructField;",
        "org.apache.spark.sql.types.MapType",
        "org.apache.spark.sql.types.ArrayType",
        "org.apache.spark.sql.types.Metadata",
        "org.apache.spark.sql.types.StringType$",
        "org.apache.spark.sql.types.LongType$",
        "org.apache.spark.sql.types.IntegerType$",
        "org.apache.spark.sql.types.DoubleType$",
        "org.apache.spark.sql.types.BooleanType$",
        "org.apache.spark.sql.types.BinaryType$",
        "org.apache.spark.sql.types.DateType$",
        "org.apache.spark.sql.types.TimestampType$",
        // Spark lists more than spark.sql.sources.parallelPartitionDiscovery.threshold (32) input paths with a
        // Spark job (reading many sidecars, a report over months of partitions), shipping these.
        "org.apache.hadoop.fs.Path",
        "[Lorg.apache.hadoop.fs.Path;",
        "scala.collection.immutable.ArraySeq$ofRef",
        "org.apache.hadoop.fs.FileStatus$AttrFlags",
        "java.util.RegularEnumSet",
        "org.apache.hadoop.fs.permission.FsAction",
        "org.apache.hadoop.fs.permission.FsPermission",
        "org.apache.hadoop.fs.StorageType",
        "[Lorg.apache.hadoop.fs.StorageType;",
        "org.apache.hadoop.fs.BlockLocation",
        "[Lorg.apache.hadoop.fs.BlockLocation;",
        "java.util.Collections$EmptySet",
        "org.apache.hadoop.fs.LocatedFileStatus",
        "[Lorg.apache.hadoop.fs.FileStatus;",
    };
}
