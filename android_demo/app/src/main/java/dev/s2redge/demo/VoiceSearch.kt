package dev.s2redge.demo

import android.annotation.SuppressLint
import android.media.AudioFormat
import android.media.AudioRecord
import android.media.MediaRecorder
import dev.s2redge.core.Chunker
import dev.s2redge.core.DocIndex
import dev.s2redge.core.Endpointer
import dev.s2redge.core.Hit

/**
 * The live loop on one background thread: AudioRecord at the model's rate (16 kHz mono float) -> fixed chunks
 * -> endpointer; while speech lasts each chunk goes through the encoder and the index is searched, so hits
 * update as the user speaks; at the end of speech the final hits come with their latency.
 */
class VoiceSearch(
    private val encoder: PteEncoder,
    private val index: DocIndex,
    private val listener: Listener,
    private val k: Int = 5,
    private val endpointing: Endpointer.Config = Endpointer.Config.DEFAULT,
) {
    /** Called on the capture thread; post to the UI thread from there. */
    interface Listener {
        fun onSpeechStart()

        fun onPartialHits(hits: List<Hit>)

        fun onFinalHits(hits: List<Hit>, timing: Timing)

        fun onMicrophoneError(sampleRate: Int)
    }

    /** End of speech -> hits: from the moment the endpointing chunk was read to the hits being ready. */
    data class Timing(val totalMs: Double, val stepMs: Double, val searchMs: Double, val hangoverMs: Int, val chunks: Int)

    @Volatile private var running = false
    private var thread: Thread? = null

    /** Start capturing; the caller has checked the RECORD_AUDIO permission. */
    fun start() {
        running = true
        thread = Thread(::capture, "s2r-capture").apply { start() }
    }

    fun stop() {
        running = false
        thread?.join()
        thread = null
    }

    @SuppressLint("MissingPermission") // checked by the activity before start()
    private fun capture() {
        val rate = encoder.info.sampleRate()
        val minBytes = AudioRecord.getMinBufferSize(rate, AudioFormat.CHANNEL_IN_MONO, AudioFormat.ENCODING_PCM_FLOAT)
        if (minBytes <= 0) {
            listener.onMicrophoneError(rate)
            return
        }
        val record = AudioRecord(
            MediaRecorder.AudioSource.VOICE_RECOGNITION, rate, AudioFormat.CHANNEL_IN_MONO,
            AudioFormat.ENCODING_PCM_FLOAT, maxOf(minBytes, rate * 4), // at least a second of floats buffered
        )
        if (record.state != AudioRecord.STATE_INITIALIZED) {
            record.release()
            listener.onMicrophoneError(rate)
            return
        }
        try {
            record.startRecording()
            loop(record)
        } finally {
            record.stop()
            record.release()
        }
    }

    private fun loop(record: AudioRecord) {
        val chunker = Chunker(encoder.info)
        val endpointer = Endpointer(endpointing, encoder.info.sampleRate())
        val buffer = FloatArray(chunker.chunkSamples() / 2)
        var previous: FloatArray? = null // pre-roll: the chunk before the endpointer noticed speech
        var inUtterance = false
        var chunks = 0
        while (running) {
            val n = record.read(buffer, 0, buffer.size, AudioRecord.READ_BLOCKING)
            if (n < 0) {
                listener.onMicrophoneError(encoder.info.sampleRate())
                return
            }
            val readAt = System.nanoTime()
            for (chunk in chunker.accept(buffer, 0, n)) {
                val events = endpointer.accept(chunk).map { it.kind() }
                if (!inUtterance && Endpointer.Kind.START in events) {
                    inUtterance = true
                    chunks = 0
                    encoder.reset()
                    previous?.let { encoder.step(it); chunks++ }
                    listener.onSpeechStart()
                }
                previous = chunk
                if (!inUtterance) {
                    continue
                }
                val t0 = System.nanoTime()
                val embedding = encoder.step(chunk)
                chunks++
                val t1 = System.nanoTime()
                val hits = index.search(embedding, k)
                val t2 = System.nanoTime()
                if (Endpointer.Kind.END in events) {
                    inUtterance = false
                    listener.onFinalHits(
                        hits,
                        Timing((t2 - readAt) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6, endpointing.hangoverMs(), chunks),
                    )
                } else {
                    listener.onPartialHits(hits)
                }
            }
        }
    }
}
