package dev.s2redge.demo

import android.content.Context
import dev.s2redge.core.S2RException
import java.io.File
import java.io.IOException

/**
 * Copies the model and the index from the APK's assets into app storage once per install or update:
 * ExecuTorch and the core library read plain files, and the core checks each against its sha256.
 */
object AssetInstaller {
    private val FOLDERS = listOf("model", "index")
    private const val STAMP = ".installed"

    /** The folder holding `model/` and `index/`, copied from the assets if this app version has not yet. */
    @Throws(S2RException::class)
    fun install(context: Context): File {
        val root = File(context.filesDir, "s2r")
        val stamp = File(root, STAMP)
        val version = context.packageManager.getPackageInfo(context.packageName, 0).lastUpdateTime.toString()
        if (stamp.isFile && stamp.readText() == version) {
            return root
        }
        root.deleteRecursively()
        for (folder in FOLDERS) {
            val names = context.assets.list(folder).orEmpty()
            if (names.isEmpty()) {
                throw S2RException("asset folder $folder/ is missing from the app; run `make android-assets` and rebuild")
            }
            val dir = File(root, folder).apply { mkdirs() }
            for (name in names) {
                try {
                    context.assets.open("$folder/$name").use { input ->
                        File(dir, name).outputStream().use { input.copyTo(it) }
                    }
                } catch (e: IOException) {
                    throw S2RException("asset $folder/$name cannot be copied to app storage (${e.message}); free some space")
                }
            }
        }
        stamp.writeText(version)
        return root
    }

    /** Make the next start copy the assets again (after a copy was found corrupt). */
    fun forget(context: Context) {
        File(File(context.filesDir, "s2r"), STAMP).delete()
    }
}
