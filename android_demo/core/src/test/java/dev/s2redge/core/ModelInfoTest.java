package dev.s2redge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The model metadata beside the shipped .pte: read, checked against the program's bytes and the index. */
public class ModelInfoTest {
    private Path scratch;

    @Before
    public void makeScratch() throws IOException {
        scratch = Files.createTempDirectory("s2r-model-test");
    }

    @After
    public void dropScratch() throws IOException {
        Assets.delete(scratch);
    }

    @Test
    public void shippedModelFitsTheIndex() throws Exception {
        ModelInfo info = ModelInfo.load(Assets.model());
        Manifest manifest = DocIndex.load(Assets.index()).manifest();
        info.requireIndex(manifest, Assets.index());
        assertEquals(manifest.dim(), info.embDim());
        assertTrue("chunks of at most 160 ms", info.chunkSamples() <= info.sampleRate() * 160 / 1000);
        assertTrue("the streaming encoder carries state", !info.stateShapes().isEmpty());
    }

    @Test
    public void corruptModelIsNamed() throws Exception {
        Path dir = Assets.copy(Assets.model().getParent(), scratch.resolve("model"));
        Path pte = dir.resolve(Assets.model().getFileName());
        byte[] bytes = Files.readAllBytes(pte);
        bytes[bytes.length - 1] ^= 0x01;
        Files.write(pte, bytes);
        S2RException e = assertThrows(S2RException.class, () -> ModelInfo.load(pte));
        assertTrue(e.getMessage(), e.getMessage().contains("encoder_int8.pte") && e.getMessage().contains("sha256"));
    }

    @Test
    public void missingMetadataIsNamed() throws Exception {
        Path dir = Assets.copy(Assets.model().getParent(), scratch.resolve("model"));
        Files.delete(ModelInfo.sidecar(dir.resolve("encoder_int8.pte")));
        S2RException e = assertThrows(S2RException.class, () -> ModelInfo.load(dir.resolve("encoder_int8.pte")));
        assertTrue(e.getMessage(), e.getMessage().contains("encoder_int8.json") && e.getMessage().contains("missing"));
    }

    @Test
    public void modelAndIndexOfDifferentSizesAreRefused() throws Exception {
        ModelInfo info = ModelInfo.load(Assets.model());
        ModelInfo other = new ModelInfo(info.sampleRate(), info.chunkSamples(), info.embDim() / 2,
                info.modelVersion(), info.teacher(), info.stateShapes());
        Manifest manifest = DocIndex.load(Assets.index()).manifest();
        S2RException e = assertThrows(S2RException.class, () -> other.requireIndex(manifest, Assets.index()));
        assertTrue(e.getMessage(), e.getMessage().contains(manifest.dim() + "-d"));
        assertThrows(S2RException.class, () -> info.requireProgram(Assets.model(), info.sampleRate(),
                info.chunkSamples() * 2, info.embDim(), info.modelVersion(), info.teacher()));
    }
}
