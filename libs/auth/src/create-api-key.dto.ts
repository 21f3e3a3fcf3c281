import { ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { SCOPES, type Scope } from '@conveyor/http';

/** Body of `POST /v1/admin/keys`. */
export class CreateApiKeyDto {
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9_-]{0,63}$/, { message: 'tenant must be 1-64 lowercase letters, digits, "_" or "-"' })
  tenant: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes: Scope[];

  @IsOptional()
  @IsString()
  @MaxLength(128)
  name?: string;
}
