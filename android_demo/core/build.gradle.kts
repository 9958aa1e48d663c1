// Plain Java library: no Android dependency, so the same sources run in the app and on any JVM.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // Written by `make android-core-test` (android_demo/make_assets.py --golden): model, index, spoken queries.
    systemProperty("s2r.assets", file("build/test-assets").absolutePath)
    exclude("**/SearchBenchmark*")
}
