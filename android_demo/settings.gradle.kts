// The s2r-edge Android demo: `:app` (the Android app) on top of `:core` (plain Java, also tested by
// `make android-core-test` with javac and JUnit, without Gradle).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "s2r-edge-demo"
include(":app", ":core")
