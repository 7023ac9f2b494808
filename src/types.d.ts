// Lets TypeScript accept `import x from "./file.sql" with { type: "text" }` (Bun embeds the text).
declare module "*.sql" {
  const text: string;
  export default text;
}
