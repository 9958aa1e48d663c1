plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

// The model and index the app ships, written by `make android-assets` (android_demo/make_assets.py):
// s2r-assets/model/encoder_int8.pte (+ .json beside it) and s2r-assets/index/{index.hnsw,docs.jsonl,manifest.json}.
val s2rAssets = file("s2r-assets")

android {
    namespace = "dev.s2redge.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.s2redge.demo"
        minSdk = 26 // java.nio.file, used by the core library
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "x86_64") // the ABIs the ExecuTorch AAR ships
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    sourceSets["main"].assets.srcDir(s2rAssets)

    androidResources {
        noCompress += listOf("pte", "hnsw") // copied to app storage at first start; no need to inflate them
    }
}

dependencies {
    implementation(project(":core"))
    implementation("org.pytorch:executorch-android:1.5.1") // the runtime version that exported the .pte
}

val checkS2rAssets by tasks.registering {
    description = "Fails early, naming the fix, when the model or index assets were not generated."
    doLast {
        val needed = listOf("model/encoder_int8.pte", "model/encoder_int8.json", "index/manifest.json")
        val missing = needed.filterNot { File(s2rAssets, it).isFile }
        if (missing.isNotEmpty()) {
            throw GradleException(
                "missing app assets ${missing.joinToString()} in $s2rAssets: run `make android-assets` " +
                    "in the repository root first"
            )
        }
    }
}

tasks.named("preBuild") { dependsOn(checkS2rAssets) }
