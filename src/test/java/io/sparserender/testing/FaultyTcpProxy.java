package io.sparserender.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 that forwards to a server and, when told, cuts connections in the middle of
 * uploads: once a PUT or POST request has sent more than {@code afterBytes} bytes (headers and body),
 * both sides are reset (RST, no orderly close), as a failing network or load balancer does. The client
 * sees its upload die half way; the server sees a truncated body.
 *
 * <p>HTTP/1.1 without pipelining is assumed: a request starts with the first client bytes after the
 * server has answered, and those begin with the method.
 */
public final class FaultyTcpProxy implements AutoCloseable {
    private final InetSocketAddress target;
    private final ServerSocket listener;
    private final Thread acceptor;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final AtomicInteger cutsLeft = new AtomicInteger();
    private final AtomicInteger cuts = new AtomicInteger();
    private final List<String> cutRequests = new CopyOnWriteArrayList<>();
    private volatile long afterBytes = Long.MAX_VALUE;
    private volatile boolean closed;

    public FaultyTcpProxy(URI server) throws IOException {
        this.target = new InetSocketAddress(server.getHost(), server.getPort());
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "faulty-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** The address clients use instead of the server's. */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + listener.getLocalPort());
    }

    /** Cuts the next {@code count} uploads (PUT or POST) once each has sent more than {@code afterBytes} bytes. */
    public void cutUploads(long afterBytes, int count) {
        this.afterBytes = afterBytes;
        cutsLeft.set(count);
    }

    /** Connections cut so far. */
    public int cuts() {
        return cuts.get();
    }

    /** The request line of each cut request (e.g. "PUT /bucket/clips/ab.mp4 HTTP/1.1"). */
    public List<String> cutRequests() {
        return List.copyOf(cutRequests);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket();
                server.connect(target, 5000);
                open.add(client);
                open.add(server);
                Connection c = new Connection(client, server);
                start("faulty-proxy-up", c::upstream);
                start("faulty-proxy-down", c::downstream);
            } catch (IOException e) {
                if (!closed) {
                    continue; // the server is down: this client sees its connection closed
                }
                return;
            }
        }
    }

    private static void start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /** One proxied connection: client bytes go up, server bytes come down. */
    private final class Connection {
        private final Socket client;
        private final Socket server;
        private volatile boolean answered = true; // the server spoke since the client last did
        private long requestBytes;
        private String requestLine = "";

        Connection(Socket client, Socket server) {
            this.client = client;
            this.server = server;
        }

        void upstream() {
            byte[] buf = new byte[8192];
            try (InputStream in = client.getInputStream(); OutputStream out = server.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (answered && startsRequest(buf, n)) {
                        requestBytes = 0;
                        requestLine = firstLine(buf, n);
                    }
                    answered = false;
                    boolean upload = requestLine.startsWith("PUT ") || requestLine.startsWith("POST ");
                    if (upload && requestBytes + n > afterBytes && cutsLeft.getAndUpdate(c -> Math.max(0, c - 1)) > 0) {
                        int part = (int) Math.max(0, afterBytes - requestBytes);
                        out.write(buf, 0, part);
                        out.flush();
                        cuts.incrementAndGet();
                        cutRequests.add(requestLine);
                        reset();
                        return;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                    requestBytes += n;
                }
            } catch (IOException e) {
                // either side went away
            } finally {
                closeQuietly();
            }
        }

        void downstream() {
            byte[] buf = new byte[8192];
            try (InputStream in = server.getInputStream(); OutputStream out = client.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    answered = true;
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // either side went away
            } finally {
                closeQuietly();
            }
        }

        private void reset() {
            for (Socket s : new Socket[] {client, server}) {
                try {
                    s.setSoLinger(true, 0); // close with RST
                    s.close();
                } catch (IOException ignored) {
                    // already gone
                }
            }
        }

        private void closeQuietly() {
            for (Socket s : new Socket[] {client, server}) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // already gone
                }
                open.remove(s);
            }
        }
    }

    private static boolean startsRequest(byte[] b, int n) {
        int i = 0;
        while (i < n && b[i] >= 'A' && b[i] <= 'Z') {
            i++;
        }
        return i > 0 && i < n && b[i] == ' ';
    }

    private static String firstLine(byte[] b, int n) {
        int end = 0;
        while (end < n && b[end] != '\r' && b[end] != '\n') {
            end++;
        }
        return new String(b, 0, end, StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
        for (Socket s : open) {
            s.close();
        }
    }
}
