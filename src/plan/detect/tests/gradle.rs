use super::{consumed, describe_repository, produced, strings, BuildSystem, Ecosystem};

const SETTINGS_KTS: &str = r#"
pluginManagement {
    repositories { gradlePluginPortal() }
}
rootProject.name = "inventory"
include(
    ":inventory-core",
    ":inventory-api",
)
include(":libs:money")
project(":libs:money").projectDir = file("shared/money")
"#;

const ROOT_KTS: &str = r#"
plugins {
    kotlin("jvm") version "2.0.0" apply false
}
allprojects {
    group = "com.acme.inventory"
    version = "1.2.0"
}
"#;

const CORE_KTS: &str = r#"
plugins {
    kotlin("jvm")
    `java-library`
}
dependencies {
    api(project(":libs:money"))
    implementation(libs.acme.events)
    implementation(libs.bundles.ktor)
    implementation(libs.not.in.catalog)
    implementation("com.acme.platform:platform-auth:4.2.0")
    implementation(platform("com.acme.platform:platform-bom:4.2.0"))
    implementation(kotlin("stdlib"))
    // implementation("com.acme.old:commented-out:1.0")
    testImplementation("org.junit.jupiter:junit-jupiter:5.10.2")
    testRuntimeOnly(group = "org.junit.platform", name = "junit-platform-launcher")
}
"#;

const API_KTS: &str = r#"
dependencies {
    implementation(project(":inventory-core"))
    implementation("io.ktor:ktor-server-core:$ktorVersion")
    implementation("$acmeGroup:platform-web:1.0")
}
publishing {
    publications {
        create<MavenPublication>("maven") { artifactId = "inventory-http-api" }
    }
}
"#;

const CATALOG: &str = r#"
[versions]
ktor = "2.3.12"

[libraries]
acme-events = { module = "com.acme.platform:platform-events", version = "4.2.0" }
ktor-client-core = { group = "io.ktor", name = "ktor-client-core", version.ref = "ktor" }
ktor-client-cio = "io.ktor:ktor-client-cio:2.3.12"

[bundles]
ktor = ["ktor-client-core", "ktor-client-cio"]

[plugins]
shadow = { id = "com.github.johnrengelman.shadow", version = "8.1.1" }
"#;

#[test]
fn kotlin_dsl_multi_project_with_version_catalog() {
    let description = describe_repository(
        &[
            ("settings.gradle.kts", SETTINGS_KTS),
            ("build.gradle.kts", ROOT_KTS),
            ("inventory-core/build.gradle.kts", CORE_KTS),
            ("inventory-api/build.gradle.kts", API_KTS),
            ("shared/money/build.gradle.kts", "dependencies { implementation(\"org.javamoney:moneta:1.4.4\") }\n"),
            ("gradle/libs.versions.toml", CATALOG),
        ],
        &["gradlew", "gradlew.bat", "gradle/wrapper/gradle-wrapper.properties"],
    );
    assert_eq!(description.language.as_deref(), Some("kotlin"));
    assert_eq!(description.build_systems, vec![BuildSystem::Gradle]);
    assert_eq!(description.build_command.as_deref(), Some("./gradlew build"));
    assert_eq!(description.test_command.as_deref(), Some("./gradlew test"));
    assert_eq!(
        produced(&description, Ecosystem::Maven),
        vec![
            ("com.acme.inventory:inventory".into(), "build.gradle.kts".into(), true),
            ("com.acme.inventory:inventory-core".into(), "inventory-core/build.gradle.kts".into(), true),
            ("com.acme.inventory:inventory-http-api".into(), "inventory-api/build.gradle.kts".into(), true),
            ("com.acme.inventory:money".into(), "shared/money/build.gradle.kts".into(), true),
        ]
    );
    let core: Vec<(String, String)> = consumed(&description, Ecosystem::Maven)
        .into_iter()
        .filter(|(_, _, file)| file == "inventory-core/build.gradle.kts")
        .map(|(name, declared, _)| (name, declared))
        .collect();
    assert_eq!(
        core,
        vec![
            ("com.acme.platform:platform-auth".into(), "com.acme.platform:platform-auth:4.2.0".into()),
            ("com.acme.platform:platform-bom".into(), "com.acme.platform:platform-bom:4.2.0".into()),
            ("com.acme.platform:platform-events".into(), "libs.acme.events".into()),
            ("io.ktor:ktor-client-cio".into(), "libs.bundles.ktor".into()),
            ("io.ktor:ktor-client-core".into(), "libs.bundles.ktor".into()),
            ("org.jetbrains.kotlin:kotlin-stdlib".into(), "kotlin(\"stdlib\")".into()),
            ("org.junit.jupiter:junit-jupiter".into(), "org.junit.jupiter:junit-jupiter:5.10.2".into()),
            ("org.junit.platform:junit-platform-launcher".into(), "org.junit.platform:junit-platform-launcher".into()),
        ]
    );
    let api: Vec<String> = consumed(&description, Ecosystem::Maven)
        .into_iter()
        .filter(|(_, _, file)| file == "inventory-api/build.gradle.kts")
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(api, strings(&["io.ktor:ktor-server-core"]));
    let unresolved: Vec<&str> = description.unresolved.iter().map(|u| u.reference.as_str()).collect();
    assert_eq!(unresolved, vec!["$acmeGroup:platform-web:1.0", "libs.not.in.catalog"]);
}

#[test]
fn groovy_dsl_without_wrapper_and_catalog_accessor_without_catalog() {
    let settings = "rootProject.name = 'ledger'\ninclude 'ledger-core', 'ledger-cli'\n";
    let root = r#"
apply plugin: 'java'
group = 'com.acme.finance'
dependencies {
    implementation 'com.google.guava:guava:33.2.1-jre'
    implementation group: 'com.acme.platform', name: 'platform-auth', version: '4.2.0'
    compileOnly libs.lombok
    testImplementation "junit:junit:4.13.2"
    implementation project(':ledger-core')
}
"#;
    let cli = "group 'com.acme.tools'\ndependencies { implementation project(':ledger-core') }\n";
    let description = describe_repository(
        &[("settings.gradle", settings), ("build.gradle", root), ("ledger-cli/build.gradle", cli)],
        &["ledger-core/build.gradle", "src/main/java/Ledger.java"],
    );
    assert_eq!(description.language.as_deref(), Some("java"));
    assert_eq!(description.build_command.as_deref(), Some("gradle build"));
    assert_eq!(description.test_command.as_deref(), Some("gradle test"));
    let names: Vec<String> = produced(&description, Ecosystem::Maven).into_iter().map(|(name, _, _)| name).collect();
    // ledger-core's build script is in the tree but was not fetched in this test: no coordinates claimed for it.
    assert_eq!(names, strings(&["com.acme.finance:ledger", "com.acme.tools:ledger-cli"]));
    let consumed_names: Vec<String> = consumed(&description, Ecosystem::Maven).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(consumed_names, strings(&["com.acme.platform:platform-auth", "com.google.guava:guava", "junit:junit"]));
    assert_eq!(description.unresolved.len(), 1);
    assert_eq!(description.unresolved[0].reference, "libs.lombok");
    assert!(description.unresolved[0].reason.contains("libs.versions.toml was not read"));
}
