package org.rtgate.im.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.File;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.rtgate.im.RtgateServer;

/**
 * The docs' snippets and receivers compile for Java 8 (what an Android
 * build sees) against the library: javac --release 8 on the example
 * sources, with the library's classes on the class path.
 */
class Java8CompileTest {
    @Test
    void examplesCompileForJava8() throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "a JDK is needed");
        Path dir = RtgateServer.REPO.resolve("java/src/test/java/org/rtgate/im/examples");
        List<String> sources;
        try (Stream<Path> s = Files.list(dir)) {
            sources = s.map(Path::toString).filter(f -> f.endsWith(".java") && !f.endsWith("Test.java"))
                    .sorted().collect(Collectors.toList());
        }
        assertEquals(5, sources.size(), "the example sources: " + sources);
        Path out = Files.createTempDirectory("rtgate-java8-");
        try {
            List<String> args = new ArrayList<>(Arrays.asList("--release", "8", "-Xlint:all,-options", "-Werror",
                    "-d", out.toString(), "-cp", System.getProperty("java.class.path")));
            args.addAll(sources);
            ByteArrayOutputStream diag = new ByteArrayOutputStream();
            int rc = javac.run(null, diag, diag, args.toArray(new String[0]));
            assertEquals(0, rc, "javac --release 8 failed: " + diag.toString(StandardCharsets.UTF_8));
            assertEquals(true, new File(out.toFile(), "org/rtgate/im/examples/DocsSnippets.class").isFile());
        } finally {
            RtgateServer.deleteTree(out);
        }
    }
}
