package io.sparserender.testing;

import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3-compatible server (S3Proxy, in memory) on 127.0.0.1 and a random port, for tests that
 * write through Hadoop S3A exactly as a cluster does. Buckets are created with the AWS SDK (S3A
 * cannot create them). Hadoop caches one S3A filesystem per bucket name, so tests use bucket names of
 * their own ({@link #uniqueBucket}).
 */
public final class S3TestServer implements AutoCloseable {
    public static final String ACCESS_KEY = "test-access-key";
    public static final String SECRET_KEY = "test-secret-key-not-for-logs";

    private final TransientNio2BlobStore store = new TransientNio2BlobStore();
    private S3Proxy proxy;
    private final URI endpoint;

    public S3TestServer() throws Exception {
        proxy = start(0);
        endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
    }

    private S3Proxy start(int port) throws Exception {
        S3Proxy p = S3Proxy.builder()
                .blobStore(store)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .build();
        p.start();
        for (int i = 0; i < 200 && !"STARTED".equals(p.getState()); i++) {
            Thread.sleep(10);
        }
        return p;
    }

    /** Stops serving (connections are refused); the stored objects are kept for {@link #restart}. */
    public void stop() throws Exception {
        proxy.stop();
    }

    /** Serves again on the same port, with the objects stored before {@link #stop}. */
    public void restart() throws Exception {
        proxy = start(endpoint.getPort());
    }

    public URI endpoint() {
        return endpoint;
    }

    public void createBucket(String name) {
        try (S3Client s3 = client()) {
            s3.createBucket(b -> b.bucket(name));
        }
    }

    /** Creates a bucket whose name no other test uses, and returns the name. */
    public String uniqueBucket(String prefix) {
        String name = prefix + "-" + Long.toHexString(System.nanoTime());
        createBucket(name);
        return name;
    }

    public S3Client client() {
        return S3Client.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build();
    }

    /** The S3A settings a job needs to reach this server. */
    public Configuration hadoopConf() {
        return hadoopConf(endpoint);
    }

    /** The S3A settings to reach this server through another address (e.g. a {@link FaultyTcpProxy}). */
    public Configuration hadoopConf(URI via) {
        Configuration c = new Configuration();
        c.set("fs.s3a.endpoint", via.toString());
        c.set("fs.s3a.endpoint.region", "us-east-1");
        c.set("fs.s3a.path.style.access", "true");
        c.set("fs.s3a.connection.ssl.enabled", "false");
        c.set("fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
        c.set("fs.s3a.access.key", ACCESS_KEY);
        c.set("fs.s3a.secret.key", SECRET_KEY);
        c.set("fs.s3a.attempts.maximum", "3");
        c.set("fs.s3a.retry.limit", "3");
        return c;
    }

    @Override
    public void close() throws Exception {
        proxy.stop();
    }
}
