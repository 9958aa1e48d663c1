package dev.s2redge.demo

import dev.s2redge.core.ModelInfo
import dev.s2redge.core.S2RException
import java.io.File
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/**
 * The exported streaming encoder run by ExecuTorch: `forward(chunk, *state) -> (embedding, *state)` once per
 * chunk, the state carried from call to call and reset to zeros for each utterance. Sizes come from the
 * program's constant methods (checked against the metadata file beside it), never from constants here.
 */
class PteEncoder(private val pte: File) : AutoCloseable {
    val info: ModelInfo = ModelInfo.load(pte.toPath()) // sha256 of the .pte and the state shapes
    private val module: Module = try {
        Module.load(pte.absolutePath)
    } catch (e: RuntimeException) { // ExecuTorch reports an unreadable program as a runtime exception
        throw unusable(e)
    }
    private val chunkShape = longArrayOf(1, info.chunkSamples().toLong())
    private var state: Array<Tensor> = zeroState()

    init {
        try {
            info.requireProgram(
                pte.toPath(),
                constantInt("sample_rate"),
                constantInt("chunk_samples"),
                constantInt("emb_dim"),
                constantString("model_version"),
                constantString("teacher"),
            )
        } catch (e: RuntimeException) { // a program without the s2r-edge constant methods
            throw unusable(e)
        }
    }

    /** Start a new utterance: the state goes back to zeros. */
    fun reset() {
        state = zeroState()
    }

    /** One chunk of `chunk_samples` floats at `sample_rate` in, the L2-normalised query vector so far out. */
    fun step(chunk: FloatArray): FloatArray {
        require(chunk.size == info.chunkSamples()) { "chunk of ${chunk.size} samples, the model takes ${info.chunkSamples()}" }
        val inputs = arrayOf(EValue.from(Tensor.fromBlob(chunk, chunkShape))) + state.map { EValue.from(it) }
        val out = module.execute("forward", *inputs)
        check(out.size == state.size + 1) { "$pte: forward returned ${out.size} values, expected ${state.size + 1}" }
        // Outputs can live in the program's planned memory, which the next call reuses: keep copies.
        state = Array(state.size) { i -> Tensor.fromBlob(out[i + 1].toTensor().dataAsFloatArray, info.stateShapes()[i]) }
        return out[0].toTensor().dataAsFloatArray.also {
            check(it.size == info.embDim()) { "$pte: embedding of ${it.size} values, expected ${info.embDim()}" }
        }
    }

    override fun close() {
        module.destroy()
    }

    private fun unusable(e: RuntimeException) =
        S2RException("$pte: ExecuTorch cannot run it as an s2r-edge encoder (${e.message}); regenerate the app assets")

    private fun zeroState(): Array<Tensor> =
        Array(info.stateShapes().size) { i ->
            val shape = info.stateShapes()[i]
            Tensor.fromBlob(FloatArray(shape.fold(1L) { n, d -> n * d }.toInt()), shape)
        }

    private fun constantInt(method: String): Int {
        val value = module.execute(method).first()
        return (if (value.isInt) value.toInt() else value.toTensor().dataAsLongArray[0]).toInt()
    }

    /** Strings are baked into the program as uint8 tensors of their UTF-8 bytes. */
    private fun constantString(method: String): String =
        String(module.execute(method).first().toTensor().dataAsUnsignedByteArray, Charsets.UTF_8)
}
