use super::{consumed, consumed_names, describe_repository, produced, strings, BuildSystem, Ecosystem};

const PARENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.2</version>
    <relativePath/>
  </parent>
  <groupId>com.acme.orders</groupId>
  <artifactId>orders-parent</artifactId>
  <version>1.8.0-SNAPSHOT</version>
  <packaging>pom</packaging>

  <properties>
    <java.version>21</java.version>
    <acme.platform.group>com.acme.platform</acme.platform.group>
    <acme.platform.version>4.2.0</acme.platform.version>
  </properties>

  <modules>
    <module>orders-api</module>
    <module>orders-service</module>
  </modules>

  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>${acme.platform.group}</groupId>
        <artifactId>platform-bom</artifactId>
        <version>${acme.platform.version}</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>

  <build>
    <plugins>
      <plugin>
        <artifactId>maven-surefire-plugin</artifactId>
      </plugin>
    </plugins>
  </build>
</project>
"#;

const API: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.acme.orders</groupId>
    <artifactId>orders-parent</artifactId>
    <version>1.8.0-SNAPSHOT</version>
  </parent>
  <artifactId>orders-api</artifactId>
  <dependencies>
    <dependency>
      <groupId>jakarta.validation</groupId>
      <artifactId>jakarta.validation-api</artifactId>
    </dependency>
  </dependencies>
</project>
"#;

const SERVICE: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.acme.orders</groupId>
    <artifactId>orders-parent</artifactId>
    <version>1.8.0-SNAPSHOT</version>
  </parent>
  <artifactId>orders-service</artifactId>
  <properties><maven.deploy.skip>true</maven.deploy.skip></properties>
  <dependencies>
    <dependency>
      <groupId>${project.groupId}</groupId>
      <artifactId>orders-api</artifactId>
      <version>${project.version}</version>
    </dependency>
    <dependency>
      <groupId>${acme.platform.group}</groupId>
      <artifactId>platform-events</artifactId>
    </dependency>
    <dependency>
      <groupId>${undefined.group}</groupId>
      <artifactId>mystery</artifactId>
    </dependency>
    <dependency>
      <groupId>org.junit.jupiter</groupId>
      <artifactId>junit-jupiter</artifactId>
      <scope>test</scope>
      <exclusions>
        <exclusion><groupId>org.opentest4j</groupId><artifactId>opentest4j</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
</project>
"#;

#[test]
fn multi_module_pom_with_parent_properties_and_dependency_management() {
    let description = describe_repository(
        &[("pom.xml", PARENT), ("orders-api/pom.xml", API), ("orders-service/pom.xml", SERVICE)],
        &["mvnw", ".mvn/wrapper/maven-wrapper.properties", "orders-api/src/main/java/com/acme/Order.java"],
    );
    assert_eq!(description.language.as_deref(), Some("java"));
    assert_eq!(description.build_systems, vec![BuildSystem::Maven]);
    assert_eq!(description.build_command.as_deref(), Some("./mvnw -B package"));
    assert_eq!(description.test_command.as_deref(), Some("./mvnw -B test"));
    assert_eq!(
        produced(&description, Ecosystem::Maven),
        vec![
            ("com.acme.orders:orders-api".into(), "orders-api/pom.xml".into(), true),
            ("com.acme.orders:orders-parent".into(), "pom.xml".into(), true),
            ("com.acme.orders:orders-service".into(), "orders-service/pom.xml".into(), false),
        ]
    );
    assert_eq!(
        consumed_names(&description, Ecosystem::Maven),
        strings(&[
            "com.acme.orders:orders-api",
            "com.acme.orders:orders-parent",
            "com.acme.platform:platform-bom",
            "com.acme.platform:platform-events",
            "jakarta.validation:jakarta.validation-api",
            "org.apache.maven.plugins:maven-surefire-plugin",
            "org.junit.jupiter:junit-jupiter",
            "org.springframework.boot:spring-boot-starter-parent",
        ]),
        "the parent POMs are dependencies (the modules' own parent is produced here); exclusions are not"
    );
    let evidence =
        consumed(&description, Ecosystem::Maven).into_iter().find(|(n, _, _)| n == "com.acme.orders:orders-api");
    assert_eq!(evidence.map(|(_, declared, _)| declared), Some("${project.groupId}:orders-api".into()));
    assert_eq!(description.unresolved.len(), 1, "{:?}", description.unresolved);
    assert_eq!(description.unresolved[0].reference, "${undefined.group}:mystery");
}

#[test]
fn maven_without_wrapper_and_kotlin_plugin() {
    let pom = r#"<project><groupId>com.acme</groupId><artifactId>kt-svc</artifactId>
      <build><plugins><plugin><groupId>org.jetbrains.kotlin</groupId><artifactId>kotlin-maven-plugin</artifactId></plugin></plugins></build>
    </project>"#;
    let description = describe_repository(&[("pom.xml", pom)], &[]);
    assert_eq!(description.build_command.as_deref(), Some("mvn -B package"));
    assert_eq!(description.test_command.as_deref(), Some("mvn -B test"));
    assert_eq!(description.language.as_deref(), Some("kotlin"));
}
