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
    }
}
