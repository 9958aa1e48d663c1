package dev.s2redge.demo

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Bundle
import android.provider.Settings
import android.view.View
import android.widget.Button
import android.widget.TextView
import dev.s2redge.core.DocIndex
import dev.s2redge.core.Hit
import dev.s2redge.core.S2RException
import java.io.File
import java.util.concurrent.Executors

/**
 * One screen: loads the model and index off the main thread (a missing or corrupt asset is shown, naming the
 * file), asks for the microphone (a refusal is explained, with a way to retry), then shows hits live.
 */
class MainActivity : Activity(), VoiceSearch.Listener {
    private lateinit var status: TextView
    private lateinit var error: TextView
    private lateinit var retry: Button
    private lateinit var hitsView: TextView
    private lateinit var latency: TextView
    private lateinit var modelView: TextView

    private val loader = Executors.newSingleThreadExecutor()
    private var encoder: PteEncoder? = null
    private var index: DocIndex? = null
    private var search: VoiceSearch? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        status = findViewById(R.id.status)
        error = findViewById(R.id.error)
        retry = findViewById(R.id.retry)
        hitsView = findViewById(R.id.hits)
        latency = findViewById(R.id.latency)
        modelView = findViewById(R.id.model)
        loader.execute(::load)
    }

    private fun load() {
        try {
            val root = AssetInstaller.install(this)
            val loadedIndex = DocIndex.load(File(root, "index").toPath())
            val loadedEncoder = PteEncoder(File(root, "model/encoder_int8.pte"))
            loadedEncoder.info.requireIndex(loadedIndex.manifest(), File(root, "index").toPath())
            runOnUiThread { ready(loadedEncoder, loadedIndex) }
        } catch (e: S2RException) {
            AssetInstaller.forget(this) // copy the assets afresh next time, in case the copy was damaged
            runOnUiThread { showError(e.message ?: e.toString()) }
        } catch (e: RuntimeException) { // anything the checks above did not foresee: still no crash
            runOnUiThread { showError("could not start voice search: $e") }
        }
    }

    private fun ready(loadedEncoder: PteEncoder, loadedIndex: DocIndex) {
        encoder = loadedEncoder
        index = loadedIndex
        val info = loadedEncoder.info
        modelView.text = getString(R.string.model_line, info.modelVersion(), info.chunkSamples(), info.embDim(), loadedIndex.size())
        if (micGranted()) {
            startListening()
        } else {
            requestPermissions(arrayOf(Manifest.permission.RECORD_AUDIO), MIC_REQUEST)
        }
    }

    override fun onResume() {
        super.onResume()
        // Back from the background or from the app settings: listen again, but never ask from here (the
        // permission dialog itself pauses and resumes the activity).
        if (encoder != null && search == null && micGranted()) {
            startListening()
        }
    }

    override fun onPause() {
        super.onPause()
        search?.stop() // never keep the microphone open in the background
        search = null
    }

    override fun onDestroy() {
        super.onDestroy()
        loader.shutdownNow()
        encoder?.close()
    }

    private fun micGranted() =
        checkSelfPermission(Manifest.permission.RECORD_AUDIO) == PackageManager.PERMISSION_GRANTED

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, results: IntArray) {
        if (requestCode != MIC_REQUEST) {
            return
        }
        if (results.firstOrNull() == PackageManager.PERMISSION_GRANTED) {
            startListening()
        } else {
            // No rationale to show after a refusal means "don't ask again": only the settings screen can help.
            showMicDenied(permanently = !shouldShowRequestPermissionRationale(Manifest.permission.RECORD_AUDIO))
        }
    }

    private fun startListening() {
        val enc = encoder ?: return
        val idx = index ?: return
        if (search != null) {
            return
        }
        error.visibility = View.GONE
        retry.visibility = View.GONE
        status.setText(R.string.listening)
        search = VoiceSearch(enc, idx, this).also { it.start() }
    }

    private fun showMicDenied(permanently: Boolean) {
        if (permanently) {
            showError(getString(R.string.mic_denied_forever), R.string.open_settings) {
                startActivity(Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", packageName, null)))
            }
        } else {
            showError(getString(R.string.mic_denied), R.string.retry) {
                requestPermissions(arrayOf(Manifest.permission.RECORD_AUDIO), MIC_REQUEST)
            }
        }
    }

    /** Show `message` in place of the status; with `action`, a button labelled `actionLabel` runs it. */
    private fun showError(message: String, actionLabel: Int = 0, action: (() -> Unit)? = null) {
        status.text = ""
        error.text = message
        error.visibility = View.VISIBLE
        retry.visibility = if (action == null) View.GONE else View.VISIBLE
        if (action != null) {
            retry.setText(actionLabel)
            retry.setOnClickListener { action() }
        }
    }

    override fun onSpeechStart() = runOnUiThread {
        status.setText(R.string.speech)
        latency.text = ""
    }

    override fun onPartialHits(hits: List<Hit>) = runOnUiThread { hitsView.text = format(hits) }

    override fun onFinalHits(hits: List<Hit>, timing: VoiceSearch.Timing) = runOnUiThread {
        status.setText(R.string.listening)
        hitsView.text = format(hits)
        latency.text = getString(
            R.string.final_hits, timing.totalMs, timing.stepMs, timing.searchMs, timing.hangoverMs, timing.chunks,
        )
    }

    override fun onMicrophoneError(sampleRate: Int) = runOnUiThread {
        search = null // its capture thread has ended
        showError(getString(R.string.mic_failed, sampleRate), R.string.try_again) { startListening() }
    }

    private fun format(hits: List<Hit>): String =
        hits.withIndex().joinToString("\n") { (i, h) ->
            val text = if (h.text().length <= 60) h.text() else h.text().take(57) + "..."
            "%d. %.3f  %s\n   %s".format(i + 1, h.score(), h.id(), text)
        }

    private companion object {
        const val MIC_REQUEST = 1
    }
}
